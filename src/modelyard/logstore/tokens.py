"""Paging tokens of the log store, through the one codec (``modelyard.page_tokens``).

GetLogEvents tokens carry a direction (``f`` read forward from a line start, ``b`` read backward
from it) and a byte offset; FilterLogEvents tokens carry one offset per stream.
"""

from __future__ import annotations

from modelyard.logstore.errors import InvalidToken
from modelyard.page_tokens import InvalidPageToken, decode_token, encode_token, expect_int, expect_list, expect_str

_STREAM_KIND = "logs:events"
_FILTER_KIND = "logs:filter"


def stream_token(direction: str, offset: int) -> str:
    """A GetLogEvents token: direction ``f`` or ``b`` and a byte offset."""
    return encode_token(_STREAM_KIND, [direction, offset])


def parse_stream_token(token: str) -> tuple[str, int]:
    """(direction, offset) of a GetLogEvents token."""
    try:
        direction, offset = expect_list(decode_token(_STREAM_KIND, token), 2)
        if expect_str(direction) not in ("f", "b"):
            raise InvalidToken(token)
        return direction, expect_int(offset)
    except InvalidPageToken:
        raise InvalidToken(token) from None


def filter_token(positions: dict[str, int]) -> str:
    """A FilterLogEvents token resuming every stream at its offset."""
    return encode_token(_FILTER_KIND, positions)


def parse_filter_token(token: str) -> dict[str, int]:
    """The per-stream offsets of a FilterLogEvents token."""
    try:
        positions = decode_token(_FILTER_KIND, token)
        if not isinstance(positions, dict):
            raise InvalidToken(token)
        return {expect_str(name): expect_int(offset) for name, offset in positions.items()}
    except InvalidPageToken:
        raise InvalidToken(token) from None
