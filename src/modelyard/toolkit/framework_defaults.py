"""The default hooks of SageMaker's framework containers, where they differ from the generic ones
(``defaults``): chosen by the image's framework (``MODELYARD_FRAMEWORK``) for every hook the user's
module does not define.

=========  ==============================================================================================
sklearn    input_fn: JSON and CSV bodies become float32 arrays (as the scikit-learn container casts them)
xgboost    input_fn: text/csv, text/libsvm (text/x-libsvm) and application/x-recordio-protobuf become a
           DMatrix (1-based libsvm indices made 0-based), other types are refused (415); predict_fn:
           ``model.predict(data, validate_features=False)`` (framework mode: a script is given; without
           one see ``xgboost_algorithm``)
pytorch    model_fn: ``model.pt`` (else the only ``.pt``/``.pth`` file) loaded with ``torch.jit.load``
           (TorchScript), so a model archive needs no inference program at all; input_fn: JSON and CSV
           as a float tensor, NPY as its own dtype; predict_fn: ``model.eval()`` then ``model(data)``
           under ``torch.no_grad()``; output_fn: tensors as nested lists, the first Accept type that
           has an encoder
=========  ==============================================================================================

TensorFlow and Hugging Face images keep the generic defaults: their containers serve through
TensorFlow Serving and pipelines modelyard does not reproduce.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

from modelyard.toolkit import content_types, decoder, encoder
from modelyard.toolkit.errors import UnsupportedFormatError

TORCH_MODEL_FILE = "model.pt"
TORCH_SUFFIXES = (".pt", ".pth")


def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


def sklearn_input_fn(input_data: Any, content_type: str | None) -> Any:
    """JSON, CSV and NPY decoded; JSON and CSV cast to float32."""
    array = decoder.decode(input_data, content_type)
    if content_types.base_type(content_type) in content_types.UTF8_TYPES and hasattr(array, "astype"):
        return array.astype("float32")
    return array


def xgboost_input_fn(input_data: Any, content_type: str | None) -> Any:
    """A DMatrix of a CSV or libsvm body; 415 for other types."""
    from modelyard.toolkit.xgboost_algorithm import CSV_TYPES, LIBSVM_TYPES, RECORDIO_TYPES, decode

    if content_types.base_type(content_type) not in CSV_TYPES + LIBSVM_TYPES + RECORDIO_TYPES:
        raise UnsupportedFormatError(content_type)
    return decode(input_data, content_type)


def xgboost_predict_fn(data: Any, model: Any) -> Any:
    """``model.predict(data, validate_features=False)``."""
    return model.predict(data, validate_features=False)


def torch_model_path(model_dir: str) -> str:
    """``model.pt``, else the model directory's only ``.pt``/``.pth`` file."""
    path = os.path.join(model_dir, TORCH_MODEL_FILE)
    if os.path.exists(path):
        return path
    found = sorted(name for name in os.listdir(model_dir)
                   if name.endswith(TORCH_SUFFIXES) and os.path.isfile(os.path.join(model_dir, name)))
    if len(found) != 1:
        raise ValueError(f"Exactly one .pth or .pt file is required for PyTorch models: {found} (the default "
                         "model_fn loads it with torch.jit.load; give code/inference.py with a model_fn otherwise)")
    return os.path.join(model_dir, found[0])


def pytorch_model_fn(model_dir: str) -> Any:
    """The TorchScript model of the model directory, on the CPU."""
    torch = _module("torch")
    path = torch_model_path(model_dir)
    try:
        return torch.jit.load(path, map_location=torch.device("cpu"))
    except RuntimeError as exc:
        raise RuntimeError(f"Failed to load {os.path.basename(path)}. Please ensure model is saved using "
                           f"torchscript (torch.jit.save): {exc}") from None


def pytorch_input_fn(input_data: Any, content_type: str | None) -> Any:
    """JSON and CSV as a float tensor, NPY as a tensor of its dtype."""
    torch = _module("torch")
    array = decoder.decode(input_data, content_type)
    if content_types.base_type(content_type) in content_types.UTF8_TYPES:
        return torch.FloatTensor(array)
    return torch.from_numpy(array)


def pytorch_predict_fn(data: Any, model: Any) -> Any:
    """``model(data)`` in eval mode, without gradients."""
    torch = _module("torch")
    with torch.no_grad():
        model.eval()
        return model(data)


def pytorch_output_fn(prediction: Any, accept: str | None) -> tuple[str | bytes, str]:
    """Tensors as nested lists, encoded as the first Accept type with an encoder."""
    if hasattr(prediction, "detach"):
        prediction = prediction.detach().cpu().numpy().tolist()
    media = encoder.negotiate(accept)
    if media is None:
        raise UnsupportedFormatError(accept)
    return encoder.ENCODERS[media](prediction), media


FRAMEWORK_HOOKS: dict[str, dict[str, Any]] = {
    "sklearn": {"input_fn": sklearn_input_fn},
    "xgboost": {"input_fn": xgboost_input_fn, "predict_fn": xgboost_predict_fn},
    "pytorch": {"model_fn": pytorch_model_fn, "input_fn": pytorch_input_fn, "predict_fn": pytorch_predict_fn,
                "output_fn": pytorch_output_fn},
}
"""Per framework, the container's own defaults for the hooks it has them for."""


def framework_hook(framework: str | None, name: str) -> Any:
    """The framework container's default ``name`` hook, or None when it uses the generic one (or has none)."""
    return FRAMEWORK_HOOKS.get(framework or "", {}).get(name)

