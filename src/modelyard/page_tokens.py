"""The one codec of every paging token modelyard issues (NextToken, nextToken, nextForwardToken ...).

    encode_token("list:endpoint/created_at/desc", [1764500000.5, 42])
        -> "WyJsaXN0Oi4uLiIsWzE3NjQ1MDAwMDAuNSw0Ml1d.3f9c2a1b0d4e"
           base64url(JSON [kind, position])  "."  checksum

Tokens are opaque to clients. ``decode_token`` refuses, with :class:`InvalidPageToken`, anything
this codec did not produce for the same kind: bad base64 or JSON, NaN/Infinity, an edited payload
(the checksum is a tamper-evidence check against edits, not a secret signature), or a token of
another kind. The position it returns is plain JSON; callers check its shape with the ``expect_*``
helpers, which raise the same error, so a forged position never reaches a query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from typing import Any

MAX_INT = 2**63 - 1
_CHECKSUM_CHARS = 12


class InvalidPageToken(ValueError):
    """A paging token that modelyard did not issue for this listing."""


def encode_token(kind: str, position: Any) -> str:
    """An opaque token resuming the listing ``kind`` after ``position`` (JSON-serializable)."""
    payload = json.dumps([kind, position], separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    body = base64.urlsafe_b64encode(payload.encode()).decode("ascii").rstrip("=")
    return f"{body}.{_checksum(body)}"


def decode_token(kind: str, token: str) -> Any:
    """The position inside ``token``, which must have been issued for ``kind``."""
    body, dot, checksum = token.rpartition(".")
    if not dot or not body.isascii() or checksum != _checksum(body):
        raise InvalidPageToken(token)
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        decoded = json.loads(raw.decode(), parse_constant=_refuse_constant)
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        raise InvalidPageToken(token) from None
    if not (isinstance(decoded, list) and len(decoded) == 2 and decoded[0] == kind):
        raise InvalidPageToken(token)
    return decoded[1]


def expect_int(value: Any, *, minimum: int = 0) -> int:
    """``value`` if it is an integer in [minimum, 2**63); else InvalidPageToken."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_INT:
        raise InvalidPageToken(repr(value))
    return value


def expect_number(value: Any) -> float:
    """``value`` if it is a finite number; else InvalidPageToken."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidPageToken(repr(value))
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise InvalidPageToken(repr(value))
    return float(value)


def expect_str(value: Any) -> str:
    """``value`` if it is a string; else InvalidPageToken."""
    if not isinstance(value, str):
        raise InvalidPageToken(repr(value))
    return value


def expect_list(value: Any, length: int | None = None) -> list[Any]:
    """``value`` if it is a list (of ``length`` items when given); else InvalidPageToken."""
    if not isinstance(value, list) or (length is not None and len(value) != length):
        raise InvalidPageToken(repr(value))
    return value


def expect_scalar(value: Any) -> Any:
    """``value`` if it is None, a string, a boolean or a finite number; else InvalidPageToken."""
    if value is None or isinstance(value, (str, bool)):
        return value
    return expect_number(value) if isinstance(value, float) else expect_int(value, minimum=-MAX_INT)


def _checksum(body: str) -> str:
    return hashlib.sha256(b"modelyard-page-token:" + body.encode("ascii")).hexdigest()[:_CHECKSUM_CHARS]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a page token")
