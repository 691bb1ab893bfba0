"""Re-export of ``modelyard.toolkit.encoder.encode`` under SageMaker's module name."""

from modelyard.toolkit.encoder import encode

__all__ = ["encode"]
