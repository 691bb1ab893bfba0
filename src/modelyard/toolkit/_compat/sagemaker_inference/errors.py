"""Re-export of ``modelyard.toolkit.errors`` under SageMaker's module name."""

from modelyard.toolkit.errors import (
    BaseInferenceToolkitError,
    GenericInferenceToolkitError,
    UnsupportedFormatError,
)

__all__ = ["BaseInferenceToolkitError", "GenericInferenceToolkitError", "UnsupportedFormatError"]
