"""Serving handlers for the pipeline's model: JSON for the endpoint, CSV lines for batch transform."""

import io
import json
import os

import joblib
import numpy as np


def model_fn(model_dir):
    """Load the model the training job wrote."""
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(body, content_type):
    """application/json {"instances": [[x1, x2], ...]} or text/csv rows "x1,x2"."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if content_type == "application/json":
        return np.asarray(json.loads(body)["instances"], dtype=float)
    if content_type == "text/csv":
        return np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2)
    raise ValueError(f"unsupported content type {content_type}")


def predict_fn(data, model):
    """Class labels."""
    return model.predict(data).tolist()


def output_fn(prediction, accept):
    """One label per line for text/csv (batch transform), else JSON."""
    if accept == "text/csv":
        return "".join(f"{label}\n" for label in prediction), "text/csv"
    return json.dumps({"predictions": prediction}), "application/json"
