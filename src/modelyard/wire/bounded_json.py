"""Parse an untrusted JSON request body within fixed bounds, before any of it reaches a handler.

    loads(b'{"A": [[[...64 deep...]]]}')  -> SerializationException "nested more than 64 levels deep"
    loads(b'{"N": 1' + b'0' * 5000 + b'}') -> SerializationException "integer of more than 19 digits"
    loads(b'{"F": 1e999}')                  -> SerializationException "not a finite number"

The nesting check runs before the parser, at C speed: escapes and string literals are cut out,
everything but brackets is deleted, and innermost ``[]``/``{}`` pairs are removed one level per pass;
a body still shrinking after ``MAX_DEPTH`` passes is too deep. ``RecursionError`` is caught as well, so the
parser's own recursion can never surface as a 500.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from modelyard.wire.errors import SerializationException

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted (SageMaker's deepest input shape is 10 levels)."""

MAX_INT_DIGITS = 19
"""Longest integer literal accepted: every AWS ``long`` fits in 19 digits."""

_KEEP = b'"[]{}'
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _KEEP)
_STRING = re.compile(rb'"[^"]*"')
_INNERMOST = re.compile(rb"\[\]|\{\}")


def _brackets(body: bytes) -> bytes:
    """The brackets of ``body`` outside string literals, in order (escapes first, then strings, cut)."""
    skeleton = body.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    return _STRING.sub(b"", skeleton.replace(b'""', b""))


def nesting_exceeds(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the arrays and objects in ``body`` nest deeper than ``limit`` levels."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _brackets(body)
    for _ in range(limit):
        shorter = _INNERMOST.sub(b"", brackets)
        if len(shorter) == len(brackets):
            return False
        brackets = shorter
    return _INNERMOST.search(brackets) is not None


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _TooLarge(f"integer of more than {MAX_INT_DIGITS} digits ({text[:20]}...)")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _TooLarge(f"{text[:40]} is not a finite number")
    return value


def _refuse_constant(name: str) -> Any:
    raise _TooLarge(f"{name} is not a JSON number")


class _TooLarge(ValueError):
    pass


def loads(body: bytes) -> Any:
    """The JSON document in ``body``; raises ``SerializationException`` saying what is wrong."""
    if nesting_exceeds(body):
        raise SerializationException(
            f"Request body is nested more than {MAX_DEPTH} levels deep (arrays and objects)")
    try:
        return json.loads(body, parse_int=_parse_int, parse_float=_parse_float,
                          parse_constant=_refuse_constant)
    except _TooLarge as exc:
        raise SerializationException(f"Request body has a number out of range: {exc}") from None
    except RecursionError:
        raise SerializationException("Request body is nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SerializationException(f"Request body is not valid JSON: {exc}") from None
    except ValueError as exc:
        raise SerializationException(f"Request body has a value out of range: {exc}") from None
