"""SageMaker inference handlers for the iris classifier (scikit-learn).

Requests: JSON ``{"instances": [[sepal_length, sepal_width, petal_length, petal_width], ...]}``
or CSV rows of the same four numbers. Responses: JSON with the predicted class names and the
probability of each class.
"""

from __future__ import annotations

import io
import json
import os

import joblib
import numpy as np


def model_fn(model_dir):
    """Load the trained pipeline once, when the instance starts."""
    model = joblib.load(os.path.join(model_dir, "model.joblib"))
    print(f"loaded {type(model).__name__} with classes {model.class_names_}", flush=True)
    return model


def input_fn(body, content_type):
    """JSON {"instances": [[...], ...]} or CSV rows -> a 2-D float array."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if content_type == "application/json":
        payload = json.loads(body)
        rows = payload["instances"] if isinstance(payload, dict) else payload
        return np.asarray(rows, dtype=float).reshape(-1, 4)
    if content_type == "text/csv":
        return np.loadtxt(io.StringIO(body), delimiter=",", dtype=float, ndmin=2)
    raise ValueError(f"unsupported content type {content_type!r}: send application/json or text/csv")


def predict_fn(data, model):
    """Class names and class probabilities for each row."""
    probabilities = model.predict_proba(data)
    names = [model.class_names_[i] for i in probabilities.argmax(axis=1)]
    return {"predictions": names, "probabilities": np.round(probabilities, 4).tolist()}


def output_fn(prediction, accept):
    """Always JSON."""
    return json.dumps(prediction), "application/json"
