"""Default response encoding (what ``output_fn`` does when the user defines none).

JSON accepts numpy arrays and scalars (anything with ``tolist``); CSV writes one row per line;
NPY needs numpy. An ``Accept`` listing several types picks the first one supported.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from modelyard.toolkit import _numpy, content_types
from modelyard.toolkit.errors import UnsupportedFormatError


def _default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def array_to_json(value: Any) -> str:
    """Serialize to JSON, converting numpy values through ``tolist``."""
    return json.dumps(value, default=_default)


def array_to_csv(value: Any) -> str:
    """Serialize an array-like to CSV (one line per row; a 1-D array gives one value per line)."""
    numpy = _numpy.optional()
    if numpy is not None:
        stream = io.StringIO()
        numpy.savetxt(stream, value, delimiter=",", fmt="%s")
        return stream.getvalue()
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        value = [value]
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    for row in value:
        writer.writerow(row if isinstance(row, (list, tuple)) else [row])
    return stream.getvalue()


def array_to_npy(value: Any) -> bytes:
    """Serialize to the ``.npy`` format."""
    numpy = _numpy.required(content_types.NPY)
    stream = io.BytesIO()
    numpy.save(stream, numpy.asarray(value), allow_pickle=False)
    return stream.getvalue()


ENCODERS: dict[str, Callable[[Any], str | bytes]] = {
    content_types.JSON: array_to_json,
    content_types.CSV: array_to_csv,
    content_types.NPY: array_to_npy,
}


def negotiate(accept: str | None, default: str = content_types.JSON) -> str | None:
    """The first type of ``accept`` that has an encoder (``*/*`` means ``default``), else None."""
    for entry in (accept or content_types.ANY).split(","):
        media = content_types.base_type(entry)
        if media in ENCODERS:
            return media
        if media == content_types.ANY:
            return default
    return None


def encode(value: Any, accept: str | None) -> str | bytes:
    """Encode ``value`` for ``accept``; UnsupportedFormatError for other types."""
    media = negotiate(accept)
    if media is None:
        raise UnsupportedFormatError(accept)
    return ENCODERS[media](value)
