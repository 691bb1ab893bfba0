"""Default request decoding (what ``input_fn`` does when the user defines none).

``application/json`` -> numpy array (the parsed value when numpy is absent or refuses it),
``text/csv`` -> numpy array of floats (rows of floats without numpy), ``application/x-npy`` ->
numpy array. Object arrays in ``.npy`` bodies are refused: unpickling client data would run
the client's code inside the model's sandbox.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from modelyard.toolkit import _numpy, content_types
from modelyard.toolkit.errors import UnsupportedFormatError

Body = bytes | bytearray | memoryview | str


def _text(data: Body) -> str:
    return data if isinstance(data, str) else bytes(data).decode("utf-8")


def json_to_array(data: Body) -> Any:
    """Parse JSON; a numpy array when numpy can represent the value."""
    value = json.loads(data if isinstance(data, (str, bytes, bytearray)) else bytes(data))
    numpy = _numpy.optional()
    if numpy is None:
        return value
    try:
        return numpy.array(value)
    except ValueError:
        return value


def csv_to_array(data: Body) -> Any:
    """Parse comma-separated values into a numpy array (nested lists of floats without numpy)."""
    text = _text(data)
    numpy = _numpy.optional()
    if numpy is not None:
        return numpy.genfromtxt(io.StringIO(text), delimiter=",")
    return [[_number(cell) for cell in row] for row in csv.reader(io.StringIO(text)) if row]


def npy_to_array(data: Body) -> Any:
    """Load a ``.npy`` payload."""
    numpy = _numpy.required(content_types.NPY)
    raw = data.encode("latin-1") if isinstance(data, str) else bytes(data)
    return numpy.load(io.BytesIO(raw), allow_pickle=False)


def _number(cell: str) -> float | str:
    try:
        return float(cell)
    except ValueError:
        return cell


DECODERS: dict[str, Callable[[Body], Any]] = {
    content_types.JSON: json_to_array,
    content_types.CSV: csv_to_array,
    content_types.NPY: npy_to_array,
}


def decode(data: Body, content_type: str | None) -> Any:
    """Decode a request body of ``content_type``; UnsupportedFormatError for other types."""
    decoder = DECODERS.get(content_types.base_type(content_type))
    if decoder is None:
        raise UnsupportedFormatError(content_type)
    return decoder(data)
