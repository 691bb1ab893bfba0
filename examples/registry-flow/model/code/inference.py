"""A linear model with no dependencies: y = w . x + b, weights read from weights.json."""

from __future__ import annotations

import json
import os


def model_fn(model_dir):
    """Read the weights."""
    with open(os.path.join(model_dir, "weights.json")) as handle:
        return json.load(handle)


def predict_fn(data, model):
    """``data`` is {"instances": [[x1, x2], ...]} (decoded by the default input_fn)."""
    rows = data["instances"] if isinstance(data, dict) else data
    return {"predictions": [sum(w * x for w, x in zip(model["w"], row, strict=True)) + model["b"] for row in rows],
            "version": model["version"]}
