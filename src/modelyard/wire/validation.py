"""Validate a parsed request against its botocore input shape.

One generic walk over the shape tree checks types, required members, enums, lengths, ranges and
patterns, collecting every violation the way AWS reports them::

    2 validation errors detected: Value null at 'modelName' failed to satisfy constraint: Member must
    not be null; Value 'x y' at 'executionRoleArn' failed to satisfy constraint: ...

Wrong JSON types are a ``SerializationException`` (as AWS's JSON protocol answers); constraint
violations are a ``ValidationException``. Timestamps are normalized to epoch seconds (float) and
blobs to bytes; unknown members are dropped, as AWS ignores them. One deliberate extension: members
whose pattern admits ``s3://`` URIs also accept ``file://`` URIs and absolute paths, so everything
runs offline. And no string may hold U+0000: PostgreSQL's text cannot store it, so it is refused as a
constraint violation on every store alike rather than failing in one of them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import reprlib
from functools import cache
from typing import Any

import regex
from botocore.model import ListShape, MapShape, Shape, StructureShape

from modelyard.wire.errors import SerializationException, ValidationException

_MAX_REPORTED = 10
MAX_SHAPE_DEPTH = 32
"""Deepest walk through (recursive) shapes; SageMaker's deepest non-recursive input is 10 levels."""
_INTEGER_RANGES = {"integer": (-(2**31), 2**31 - 1, "a 32-bit integer"),
                   "long": (-(2**63), 2**63 - 1, "a 64-bit integer")}
_BOUNDED_REPR = reprlib.Repr()
_BOUNDED_REPR.maxlevel, _BOUNDED_REPR.maxstring, _BOUNDED_REPR.maxother = 3, 200, 200


@cache
def _compiled(pattern: str) -> regex.Pattern[str] | None:
    try:
        return regex.compile(pattern, regex.V0)
    except regex.error:
        return None


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _show(value: Any) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else _BOUNDED_REPR.repr(value)
    if len(text) > 200:
        text = text[:200] + "..."
    return f"'{text}'"


class _Walker:
    def __init__(self) -> None:
        self.violations: list[str] = []
        self.depth = 0

    def violation(self, value: Any, path: str, constraint: str) -> None:
        self.violations.append(
            f"Value {_show(value)} at '{path}' failed to satisfy constraint: Member {constraint}"
        )

    def walk(self, shape: Shape, value: Any, path: str) -> Any:
        if self.depth >= MAX_SHAPE_DEPTH:
            raise ValidationException(
                f"Value at '{path[:200]}' is nested more than {MAX_SHAPE_DEPTH} levels deep")
        self.depth += 1
        try:
            return self._walk(shape, value, path)
        finally:
            self.depth -= 1

    def _walk(self, shape: Shape, value: Any, path: str) -> Any:
        kind = shape.type_name
        if kind == "structure":
            return self.structure(shape, value, path)
        if kind == "list":
            return self.list(shape, value, path)
        if kind == "map":
            return self.map(shape, value, path)
        if kind == "string":
            return self.string(shape, value, path)
        if kind in ("integer", "long"):
            return self.integer(shape, value, path)
        if kind in ("float", "double"):
            return self.number(shape, value, path)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise _type_error(path, "a boolean", value)
            return value
        if kind == "timestamp":
            return _timestamp(value, path)
        if kind == "blob":
            return _blob(value, path)
        return value

    def structure(self, shape: StructureShape, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _type_error(path, "a structure (JSON object)", value)
        members = shape.members
        result: dict[str, Any] = {}
        for name in shape.required_members:
            if value.get(name) is None:
                self.violation(None, _join(path, name), "must not be null")
        for name, member_value in value.items():
            member = members.get(name)
            if member is None or member_value is None:
                continue
            result[name] = self.walk(member, member_value, _join(path, name))
        return result

    def list(self, shape: ListShape, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise _type_error(path, "a list (JSON array)", value)
        if not self.length(shape, value, len(value), path):
            return value
        member = shape.member
        return [self.walk(member, item, f"{path}.{i}.member") for i, item in enumerate(value, 1)]

    def map(self, shape: MapShape, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _type_error(path, "a map (JSON object)", value)
        if not self.length(shape, value, len(value), path):
            return value
        result = {}
        for key, item in value.items():
            self.walk(shape.key, key, f"{path}.key")
            result[key] = self.walk(shape.value, item, f"{path}.{key}")
        return result

    def string(self, shape: Shape, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise _type_error(path, "a string", value)
        enum = shape.enum
        if enum and value not in enum:
            self.violation(value, path, f"must satisfy enum value set: [{', '.join(enum)}]")
            return value
        self.length(shape, value, len(value), path)
        if "\x00" in value:
            self.violation(value, path, "must not contain the NUL character (U+0000)")
            return value
        pattern = shape.metadata.get("pattern")
        if pattern:
            compiled = _compiled(pattern)
            if compiled is not None and compiled.fullmatch(value) is None and not _local_uri_allowed(pattern, value):
                self.violation(value, path, f"must satisfy regular expression pattern: {pattern}")
        return value

    def integer(self, shape: Shape, value: Any, path: str) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(path, "an integer", value)
        low, high, noun = _INTEGER_RANGES.get(shape.type_name, _INTEGER_RANGES["long"])
        if not low <= value <= high:
            raise SerializationException(f"Value {_show(value)} at '{path}' does not fit in {noun}")
        self.range(shape, value, path)
        return value

    def number(self, shape: Shape, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(path, "a number", value)
        self.range(shape, value, path)
        return float(value)

    def length(self, shape: Shape, value: Any, size: int, path: str) -> bool:
        """Record a length violation; False when ``value`` is too long to be worth walking."""
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and size < low:
            self.violation(value, path, f"must have length greater than or equal to {low}")
        elif high is not None and size > high:
            self.violation(value, path, f"must have length less than or equal to {high}")
            return False
        return True

    def range(self, shape: Shape, value: float, path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self.violation(value, path, f"must have value greater than or equal to {low}")
        elif high is not None and value > high:
            self.violation(value, path, f"must have value less than or equal to {high}")


def _local_uri_allowed(pattern: str, value: str) -> bool:
    """modelyard extension: wherever SageMaker takes an S3 URI, a ``file://`` URI or absolute path works too."""
    local = value.startswith(("file:///", "/")) and "\n" not in value
    return local and "s3" in pattern and "://" in pattern


def _join(path: str, name: str) -> str:
    return f"{path}.{_lower_camel(name)}" if path else _lower_camel(name)


def _type_error(path: str, expected: str, value: Any) -> SerializationException:
    where = f"'{path}'" if path else "the request body"
    return SerializationException(
        f"Expected {expected} at {where}, got {type(value).__name__} {_show(value)}"
    )


def _timestamp(value: Any, path: str) -> float:
    if isinstance(value, bool):
        raise _type_error(path, "a timestamp", value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            try:
                return float(value)
            except ValueError:
                pass
    raise _type_error(path, "a timestamp (epoch seconds or ISO 8601)", value)


def _blob(value: Any, path: str) -> bytes:
    if not isinstance(value, str):
        raise _type_error(path, "base64-encoded data", value)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SerializationException(f"Value at '{path}' is not valid base64: {exc}") from None


def validate_input(shape: StructureShape | None, params: Any) -> dict[str, Any]:
    """Check ``params`` against ``shape`` and return the normalized request dictionary.

    Raises ``SerializationException`` for type errors and ``ValidationException`` listing every
    constraint violation.
    """
    if shape is None:
        if not isinstance(params, dict):
            raise _type_error("", "a JSON object", params)
        return {}
    walker = _Walker()
    result = walker.structure(shape, params, "")
    if walker.violations:
        count = len(walker.violations)
        noun = "error" if count == 1 else "errors"
        shown = "; ".join(walker.violations[:_MAX_REPORTED])
        raise ValidationException(f"{count} validation {noun} detected: {shown}")
    return result
