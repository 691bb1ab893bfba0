"""Media types the default handlers understand, named as SageMaker's toolkit names them."""

from __future__ import annotations

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
OCTET_STREAM = "application/octet-stream"
ANY = "*/*"
UTF8_TYPES = (JSON, CSV)


def base_type(content_type: str | None) -> str:
    """The media type without parameters, lower-cased: ``"Text/CSV; charset=x"`` -> ``"text/csv"``."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()
