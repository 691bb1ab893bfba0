"""Train the example's tiny scikit-learn model and save it as model/model.joblib.

Run it in a throw-away environment with the same scikit-learn the endpoint installs:

    uv run --no-project --with-requirements model/code/requirements.txt python train.py
"""

from __future__ import annotations

from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent


def main() -> None:
    """Fit a scaled logistic regression on the iris data set (bundled with scikit-learn)."""
    data = load_iris()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(data.data, data.target)
    model.class_names_ = [str(name) for name in data.target_names]
    target = HERE / "model" / "model.joblib"
    joblib.dump(model, target)
    print(f"trained on {len(data.data)} flowers, accuracy {model.score(data.data, data.target):.3f}; saved {target}")


if __name__ == "__main__":
    main()
