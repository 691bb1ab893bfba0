"""Encode a service's result dictionary by its botocore output shape.

Only members the shape defines reach the wire (internal fields never leak), ``None`` values are
dropped, timestamps become epoch seconds and blobs base64.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from typing import Any

from botocore.model import Shape

_PLAIN = frozenset({"string", "integer", "long", "double", "float", "boolean"})
"""Scalar shapes whose values are already JSON-ready: a list of them is copied, not walked."""


def encode_output(shape: Shape | None, value: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-ready form of ``value`` restricted to ``shape``'s members."""
    if shape is None:
        return {}
    return _encode(shape, value)  # type: ignore[no-any-return]


def _encode(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        out = {}
        for name, item in value.items():
            member = members.get(name)
            if member is not None and item is not None:
                out[name] = _encode(member, item)
        return out
    if kind == "list":
        member = shape.member
        if member.type_name in _PLAIN:
            return list(value)
        return [_encode(member, item) for item in value]
    if kind == "map":
        value_shape = shape.value
        return {key: _encode(value_shape, item) for key, item in value.items()}
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            return value.timestamp()
        return value
    if kind == "blob":
        if isinstance(value, str):
            value = value.encode()
        return base64.b64encode(value).decode("ascii")
    return value
