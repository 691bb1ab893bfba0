"""Default hooks, used for every hook the user's module does not define.

There is no default ``model_fn``: a module without one fails to load, as on SageMaker.
``default_predict_fn`` calls ``model.predict(data)`` (scikit-learn, XGBoost) or ``model(data)``
(PyTorch-style callables), as the framework containers do.
"""

from __future__ import annotations

from typing import Any

from modelyard.toolkit import decoder, encoder
from modelyard.toolkit.errors import UnsupportedFormatError


def default_input_fn(input_data: Any, content_type: str | None) -> Any:
    """Decode JSON, CSV or NPY into a numpy array."""
    return decoder.decode(input_data, content_type)


def default_predict_fn(data: Any, model: Any) -> Any:
    """``model.predict(data)``, or ``model(data)`` for a callable model."""
    predict = getattr(model, "predict", None)
    if callable(predict):
        return predict(data)
    if callable(model):
        return model(data)
    raise NotImplementedError(
        "Please provide a predict_fn implementation: the model returned by model_fn has no "
        "predict method and is not callable.")


def default_output_fn(prediction: Any, accept: str | None) -> tuple[str | bytes, str]:
    """Encode the prediction as JSON, CSV or NPY; returns ``(body, content_type)``."""
    media = encoder.negotiate(accept)
    if media is None:
        raise UnsupportedFormatError(accept)
    return encoder.ENCODERS[media](prediction), media
