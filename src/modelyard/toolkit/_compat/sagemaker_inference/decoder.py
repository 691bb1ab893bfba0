"""Re-export of ``modelyard.toolkit.decoder.decode`` under SageMaker's module name."""

from modelyard.toolkit.decoder import decode

__all__ = ["decode"]
