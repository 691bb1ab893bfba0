"""Re-export of ``modelyard.toolkit.content_types`` under SageMaker's module name."""

from modelyard.toolkit.content_types import ANY, CSV, JSON, NPY, OCTET_STREAM, UTF8_TYPES

__all__ = ["ANY", "CSV", "JSON", "NPY", "OCTET_STREAM", "UTF8_TYPES"]
