"""Lazy access to numpy, which the model's environment may or may not have."""

from __future__ import annotations

import importlib
from types import ModuleType

from modelyard.toolkit.errors import GenericInferenceToolkitError


def optional() -> ModuleType | None:
    """numpy when it is installed, else None (imported on first use only)."""
    try:
        return importlib.import_module("numpy")
    except ImportError:
        return None


def required(content_type: str) -> ModuleType:
    """numpy, or a 415 error explaining that ``content_type`` needs it."""
    numpy = optional()
    if numpy is None:
        raise GenericInferenceToolkitError(
            415, f"{content_type} needs numpy, which is not installed in the model environment")
    return numpy
