"""The JSONPath subset SageMaker batch transform accepts for ``InputFilter``/``OutputFilter``.

    $                 the whole record            $.a.b      a child (dot notation)
    $.a.*  $[*]       every child (wildcard)      $['a','b'] named children (an object)
    $[1]  $[-1]       one element                 $[0,2,5]   several elements (a list)
    $[2:5] $[:5] $[2:] a slice                    $[0,5:]    indexes and slices mixed

Slices include their end index: the developer guide defines ``$[1:4]`` as "the second through
fifth columns" (unlike Jayway JsonPath, whose slice end is exclusive). An index or name that
does not exist is an error (the guide: "If you specify indexes that aren't within the
dimension size of the joined dataset, you get an error"); slices clip to the array.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_LENGTH = 63

_NAME = re.compile(r"[^.\[\]\s*'\"]+")
_QUOTED = re.compile(r"""\s*(?:'([^']*)'|"([^"]*)")\s*""")
_INT = re.compile(r"\s*(-?\d+)\s*")


class InvalidJsonPathError(ValueError):
    """The expression is not in SageMaker's JSONPath subset."""

    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"invalid JSONPath {expression!r}: {reason}")
        self.expression = expression
        self.reason = reason


class JsonPathSelectError(ValueError):
    """The expression does not fit the record (missing name, index out of range, wrong type)."""


@dataclass(frozen=True)
class Slice:
    """``start:end`` with the end included; ``None`` means the array's first/last element."""

    start: int | None
    end: int | None


@dataclass(frozen=True)
class Names:
    """``.name`` or ``['a','b',...]``."""

    names: tuple[str, ...]
    bracketed: bool = False


@dataclass(frozen=True)
class Indexes:
    """``[1]``, ``[0,2]``, ``[1:3]``, ``[0,5:]``."""

    items: tuple[int | Slice, ...]


@dataclass(frozen=True)
class Wildcard:
    """``.*`` or ``[*]``."""


Segment = Names | Indexes | Wildcard


@dataclass(frozen=True)
class JsonPath:
    """A parsed expression; :meth:`select` applies it to a decoded JSON value."""

    expression: str
    segments: tuple[Segment, ...]

    @property
    def is_root(self) -> bool:
        """True for ``$`` (select everything)."""
        return not self.segments

    @property
    def uses_names(self) -> bool:
        """True if any segment selects by name (cannot apply to a CSV row)."""
        return any(isinstance(segment, Names) for segment in self.segments)

    def select(self, value: Any) -> Any:
        """The selected part of ``value``: a single value, an object, or a list of matches."""
        definite = True
        current: Any = value
        for segment in self.segments:
            if definite:
                current, definite = _apply_definite(segment, current, self.expression)
            else:
                current = [found for item in current for found in _apply_each(segment, item)]
        return current


def parse_jsonpath(expression: str | None) -> JsonPath:
    """Parse ``expression`` (``None`` or empty means ``$``); raise :class:`InvalidJsonPathError`."""
    if expression is None or expression == "":
        return JsonPath("$", ())
    if len(expression) > MAX_LENGTH:
        raise InvalidJsonPathError(expression, f"longer than {MAX_LENGTH} characters")
    if not expression.startswith("$"):
        raise InvalidJsonPathError(expression, "must start with '$'")
    segments: list[Segment] = []
    pos = 1
    while pos < len(expression):
        segment, pos = _parse_segment(expression, pos)
        segments.append(segment)
    return JsonPath(expression, tuple(segments))


def _parse_segment(expr: str, pos: int) -> tuple[Segment, int]:
    char = expr[pos]
    if char == ".":
        if expr.startswith("..", pos):
            raise InvalidJsonPathError(expr, "deep scan '..' is not supported")
        if expr.startswith(".[", pos):
            return _parse_bracket(expr, pos + 1)
        if expr.startswith(".*", pos):
            return Wildcard(), pos + 2
        match = _NAME.match(expr, pos + 1)
        if match is None:
            raise InvalidJsonPathError(expr, f"expected a name after '.' at position {pos}")
        return Names((match.group(0),)), match.end()
    if char == "[":
        return _parse_bracket(expr, pos)
    raise InvalidJsonPathError(expr, f"unexpected {char!r} at position {pos}")


def _parse_bracket(expr: str, pos: int) -> tuple[Segment, int]:
    close = expr.find("]", pos)
    if close < 0:
        raise InvalidJsonPathError(expr, f"'[' at position {pos} is never closed")
    body = expr[pos + 1: close]
    if body.strip() == "*":
        return Wildcard(), close + 1
    if body.strip() == "":
        raise InvalidJsonPathError(expr, f"empty brackets at position {pos}")
    if body.lstrip().startswith(("'", '"')):
        return Names(_parse_names(expr, body), bracketed=True), close + 1
    return Indexes(tuple(_parse_index(expr, part) for part in body.split(","))), close + 1


def _parse_names(expr: str, body: str) -> tuple[str, ...]:
    names = []
    for part in body.split(","):
        match = _QUOTED.fullmatch(part)
        if match is None:
            raise InvalidJsonPathError(expr, f"{part.strip()!r} is not a quoted name")
        name = match.group(1) if match.group(1) is not None else match.group(2)
        if "." in name:
            raise InvalidJsonPathError(expr, f"nested child {name!r} inside brackets is not supported")
        names.append(name)
    return tuple(names)


def _parse_index(expr: str, part: str) -> int | Slice:
    if ":" in part:
        bounds = part.split(":")
        if len(bounds) != 2:
            raise InvalidJsonPathError(expr, f"slice {part.strip()!r} must be start:end (no step)")
        start, end = (_optional_int(expr, bound) for bound in bounds)
        return Slice(start, end)
    match = _INT.fullmatch(part)
    if match is None:
        raise InvalidJsonPathError(expr, f"{part.strip()!r} is not an index")
    return int(match.group(1))


def _optional_int(expr: str, text: str) -> int | None:
    if text.strip() == "":
        return None
    match = _INT.fullmatch(text)
    if match is None:
        raise InvalidJsonPathError(expr, f"{text.strip()!r} is not a slice bound")
    return int(match.group(1))


def _apply_definite(segment: Segment, value: Any, expr: str) -> tuple[Any, bool]:
    if isinstance(segment, Names):
        obj = _require(value, dict, expr)
        missing = [name for name in segment.names if name not in obj]
        if missing:
            raise JsonPathSelectError(f"{expr}: the record has no {missing[0]!r}")
        if len(segment.names) == 1:
            return obj[segment.names[0]], True
        return {name: obj[name] for name in segment.names}, True
    if isinstance(segment, Wildcard):
        return _children(value, expr), False
    array = _require(value, list, expr)
    if len(segment.items) == 1 and isinstance(segment.items[0], int):
        return array[_checked_index(segment.items[0], len(array), expr)], True
    return _pick(array, segment.items, expr), False


def _apply_each(segment: Segment, value: Any) -> list[Any]:
    if isinstance(segment, Names):
        if not isinstance(value, dict):
            return []
        if len(segment.names) == 1:
            return [value[segment.names[0]]] if segment.names[0] in value else []
        return [{name: value[name] for name in segment.names if name in value}]
    if isinstance(segment, Wildcard):
        return _children(value, None) if isinstance(value, dict | list) else []
    if not isinstance(value, list):
        return []
    found: list[Any] = []
    for item in segment.items:
        if isinstance(item, Slice):
            found.extend(value[i] for i in _slice_range(item, len(value)))
        elif -len(value) <= item < len(value):
            found.append(value[item])
    return found


def _pick(array: list[Any], items: tuple[int | Slice, ...], expr: str) -> list[Any]:
    picked: list[Any] = []
    for item in items:
        if isinstance(item, Slice):
            picked.extend(array[i] for i in _slice_range(item, len(array)))
        else:
            picked.append(array[_checked_index(item, len(array), expr)])
    return picked


def _slice_range(item: Slice, length: int) -> range:
    start = 0 if item.start is None else item.start
    end = length - 1 if item.end is None else item.end
    start = start + length if start < 0 else start
    end = end + length if end < 0 else end
    return range(max(start, 0), min(end, length - 1) + 1)


def _checked_index(index: int, length: int, expr: str) -> int:
    if not -length <= index < length:
        raise JsonPathSelectError(f"{expr}: index {index} is outside the record's {length} elements")
    return index


def _children(value: Any, expr: str | None) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return list(value)
    raise JsonPathSelectError(f"{expr}: '*' needs an object or array, not {type(value).__name__}")


def _require(value: Any, kind: type, expr: str) -> Any:
    if not isinstance(value, kind):
        wanted = "an object" if kind is dict else "an array"
        raise JsonPathSelectError(f"{expr}: expected {wanted} but the record has {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__} ({value!r:.40})"
