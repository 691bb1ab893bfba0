"""The one codec of every paging token modelyard issues (NextToken, nextToken, nextForwardToken ...).

    encode_token("list:endpoint/created_at/desc", [1764500000.5, 42])
        -> "WyJsaXN0Oi4uLiIsWzE3NjQ1MDAwMDAuNSw0Ml1d.Jm3Q0c1bB9xk2T1vAq8yZw"
           base64url(JSON [kind, position])  "."  base64url(HMAC-SHA256(key, body))[:22]

Tokens are opaque to clients. The HMAC key is the server's (``use_secret``, called by the
composition root with a key derived from the data dir's server secret; until then a random key of
this process). ``decode_token`` refuses, with :class:`InvalidPageToken`, anything this server did not
produce for the same kind: bad base64 or JSON, NaN/Infinity, an edited payload or one signed with
another key, or a token of another kind. The position it returns is plain JSON; callers check its
shape with the ``expect_*`` helpers, which raise the same error, so a forged position never reaches a query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import os
from typing import Any

MAX_INT = 2**63 - 1
_MAC_CHARS = 22
_key = os.urandom(32)


def use_secret(key: bytes) -> None:
    """Sign and check tokens with ``key`` from now on (tokens issued under another key stop working)."""
    global _key
    _key = key


class InvalidPageToken(ValueError):
    """A paging token that modelyard did not issue for this listing."""


def encode_token(kind: str, position: Any, *, key: bytes | None = None) -> str:
    """An opaque token resuming the listing ``kind`` after ``position`` (JSON-serializable), signed
    with the server's key (or ``key``: what a test that knows a server's key mints)."""
    payload = json.dumps([kind, position], separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    body = base64.urlsafe_b64encode(payload.encode()).decode("ascii").rstrip("=")
    return f"{body}.{_mac(body, key)}"


def decode_token(kind: str, token: str) -> Any:
    """The position inside ``token``, which must have been issued for ``kind``."""
    body, dot, mac = token.rpartition(".")
    if not dot or not body.isascii() or not mac.isascii() or not hmac.compare_digest(mac, _mac(body)):
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


def _mac(body: str, key: bytes | None = None) -> str:
    digest = hmac.new(_key if key is None else key, body.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:_MAC_CHARS]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a page token")
