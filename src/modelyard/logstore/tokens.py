"""Paging tokens: opaque to clients, byte offsets inside.

GetLogEvents tokens are ``f/<offset>`` (read forward from a line start) and ``b/<offset>`` (read
backward from it), padded like CloudWatch's. FilterLogEvents tokens carry one offset per stream.
"""

from __future__ import annotations

import base64
import binascii
import json

from modelyard.logstore.errors import InvalidToken

_WIDTH = 20
_FILTER_PREFIX = "F1."


def stream_token(direction: str, offset: int) -> str:
    """A GetLogEvents token: direction ``f`` or ``b`` and a byte offset."""
    return f"{direction}/{offset:0{_WIDTH}d}"


def parse_stream_token(token: str) -> tuple[str, int]:
    """(direction, offset) of a GetLogEvents token."""
    direction, _, digits = token.partition("/")
    if direction not in ("f", "b") or not digits.isdigit() or not digits.isascii():
        raise InvalidToken(token)
    return direction, int(digits)


def filter_token(positions: dict[str, int]) -> str:
    """A FilterLogEvents token resuming every stream at its offset."""
    payload = json.dumps(positions, separators=(",", ":"), ensure_ascii=False).encode()
    return _FILTER_PREFIX + base64.urlsafe_b64encode(payload).decode("ascii")


def parse_filter_token(token: str) -> dict[str, int]:
    """The per-stream offsets of a FilterLogEvents token."""
    if not token.startswith(_FILTER_PREFIX):
        raise InvalidToken(token)
    try:
        positions = json.loads(base64.urlsafe_b64decode(token[len(_FILTER_PREFIX):].encode("ascii")))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise InvalidToken(token) from None
    if not isinstance(positions, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for k, v in positions.items()):
        raise InvalidToken(token)
    return positions
