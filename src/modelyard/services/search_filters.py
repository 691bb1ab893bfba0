"""Compile a Search ``SearchExpression`` into a predicate over described documents.

Property names are resolved against the botocore shape of the searched record (``ModelPackage``,
``ModelPackageGroup`` …), which gives each property its type and refuses names the resource lacks::

    "ModelApprovalStatus"                      -> text
    "CreationTime"                             -> timestamp (Value: ISO 8601 or epoch seconds)
    "ModelPackageVersion"                      -> number
    "Tags.team", "CustomerMetadataProperties.k" -> text (map keys may contain dots)
    "InferenceSpecification.Containers.Image"  -> text, matched against every container

Operators follow the API's rules: comparisons only on numbers and timestamps, ``In`` and ``Contains``
only on text, at most one ``Contains`` per request, at most 20 elements per expression and 50 in all.
A document is the described resource with ``Tags`` as a ``{key: value}`` map.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.model import Shape

from modelyard.wire.errors import ValidationException

Predicate = Callable[[dict[str, Any]], bool]

_ABSENT: tuple[Any, ...] = (None, {}, [])
MAX_ELEMENTS = 20
MAX_TOTAL = 50
_TEXT, _NUMBER, _TIMESTAMP, _BOOLEAN, _COMPLEX = "text", "number", "timestamp", "boolean", "complex"
_KINDS = {"string": _TEXT, "integer": _NUMBER, "long": _NUMBER, "float": _NUMBER, "double": _NUMBER,
          "timestamp": _TIMESTAMP, "boolean": _BOOLEAN}
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "GreaterThan": lambda a, b: a > b, "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b, "LessThanOrEqualTo": lambda a, b: a <= b,
}


@dataclass(frozen=True)
class Property:
    """A resolved property: its path through the document, its value kind, and its final shape."""

    name: str
    path: tuple[str, ...]
    kind: str
    shape: Shape


def _unwrap_lists(shape: Shape) -> Shape:
    while shape.type_name == "list":
        shape = shape.member
    return shape


def _is_tag_list(shape: Shape) -> bool:
    member = getattr(shape, "member", None)
    return member is not None and set(getattr(member, "members", {})) == {"Key", "Value"}


def resolve_property(shape: Shape, name: str, resource: str) -> Property:
    """Resolve a dotted property name against a record shape; unknown names are a ValidationException."""
    parts, path, current = name.split("."), [], shape
    index = 0
    while index < len(parts):
        current = _unwrap_lists(current) if not _is_tag_list(current) else current
        part = parts[index]
        if current.type_name == "structure":
            member = current.members.get(part)
            if member is None or not part:
                raise ValidationException(f"'{name}' is not a searchable property of {resource}")
            path.append(part)
            current, index = member, index + 1
        elif _is_tag_list(current) or current.type_name == "map":
            value_shape = (current.member.members["Value"] if _is_tag_list(current)
                           else current.value)
            scalar = _unwrap_lists(value_shape).type_name in _KINDS
            key = ".".join(parts[index:]) if scalar else part
            path.append(key)
            current, index = value_shape, (len(parts) if scalar else index + 1)
        else:
            raise ValidationException(f"'{name}' is not a searchable property of {resource}")
    final = _unwrap_lists(current) if not _is_tag_list(current) else current
    return Property(name, tuple(path), _KINDS.get(final.type_name, _COMPLEX), final)


def property_values(document: Any, path: tuple[str, ...]) -> list[Any]:
    """Every value at ``path``, flattening the lists met on the way and at the end."""
    current = [document]
    for part in path:
        following: list[Any] = []
        for item in _flatten(current):
            if isinstance(item, dict) and item.get(part) not in _ABSENT:
                following.append(item[part])
        current = following
    return list(_flatten(current))


def _flatten(values: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for value in values:
        if isinstance(value, list):
            flat.extend(_flatten(value))
        else:
            flat.append(value)
    return flat


def parse_timestamp(value: Any, name: str) -> float:
    """Epoch seconds from a number or an ISO 8601 string (naive times are UTC)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationException(
            f"Value '{value}' for timestamp property {name} must be an ISO 8601 date-time "
            "(YYYY-mm-ddTHH:MM:SS)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


def coerce(prop: Property, value: Any) -> Any:
    """A filter value or a document value as the property's comparable type."""
    if prop.kind == _TIMESTAMP:
        return parse_timestamp(value, prop.name)
    if prop.kind == _NUMBER:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValidationException(
                f"Value '{value}' for numeric property {prop.name} is not a number") from None
    if prop.kind == _BOOLEAN:
        if isinstance(value, bool):
            return value
        if str(value).lower() not in ("true", "false"):
            raise ValidationException(
                f"Value '{value}' for boolean property {prop.name} must be true or false")
        return str(value).lower() == "true"
    return str(value)


def _typed_values(prop: Property, document: dict[str, Any]) -> list[Any]:
    values = property_values(document, prop.path)
    if prop.kind in (_TEXT, _COMPLEX):
        return values
    typed = []
    for value in values:
        try:
            typed.append(coerce(prop, value))
        except ValidationException:
            continue
    return typed


@dataclass
class _Compiler:
    shape: Shape
    resource: str
    total: int = 0
    contains: int = 0
    names: set[str] = field(default_factory=set)

    def expression(self, expression: dict[str, Any]) -> Predicate:
        filters = expression.get("Filters") or []
        nested = expression.get("NestedFilters") or []
        subs = expression.get("SubExpressions") or []
        count = len(filters) + len(nested) + len(subs)
        if count == 0:
            raise ValidationException(
                "A SearchExpression must contain at least one of Filters, NestedFilters or SubExpressions")
        if count > MAX_ELEMENTS:
            raise ValidationException(
                f"A SearchExpression can contain at most {MAX_ELEMENTS} elements; got {count}")
        self.total += count
        if self.total > MAX_TOTAL:
            raise ValidationException(
                f"A SearchExpression can contain at most {MAX_TOTAL} Filters, NestedFilters and "
                "SubExpressions in all")
        parts = [self.filter(self.shape, f, "") for f in filters]
        parts += [self.nested(n) for n in nested]
        parts += [self.expression(s) for s in subs]
        if expression.get("Operator") == "Or":
            return lambda doc: any(part(doc) for part in parts)
        return lambda doc: all(part(doc) for part in parts)

    def nested(self, nested: dict[str, Any]) -> Predicate:
        prefix = nested["NestedPropertyName"]
        container = resolve_property(self.shape, prefix, self.resource)
        if container.shape.type_name != "structure":
            raise ValidationException(f"NestedPropertyName '{prefix}' must name a list of objects")
        self.names.add(prefix)
        for item in nested["Filters"]:
            if not item["Name"].startswith(prefix + "."):
                raise ValidationException(
                    f"Nested filter property '{item['Name']}' must start with '{prefix}.'")
        checks = [self.filter(container.shape, item, prefix + ".") for item in nested["Filters"]]

        def matches(doc: dict[str, Any]) -> bool:
            elements = [e for e in property_values(doc, container.path) if isinstance(e, dict)]
            return any(all(check(element) for check in checks) for element in elements)

        return matches

    def filter(self, shape: Shape, item: dict[str, Any], prefix: str) -> Predicate:
        name, operator = item["Name"], item.get("Operator") or "Equals"
        prop = resolve_property(shape, name[len(prefix):], self.resource)
        self.names.add(name)
        if operator in ("Exists", "NotExists"):
            wanted = operator == "Exists"
            return lambda doc: bool(property_values(doc, prop.path)) == wanted
        if item.get("Value") is None:
            raise ValidationException(f"Filter on {name} with operator {operator} needs a Value")
        return self._compare(prop, operator, item["Value"])

    def _compare(self, prop: Property, operator: str, raw: str) -> Predicate:
        if prop.kind == _COMPLEX:
            raise ValidationException(
                f"{prop.name} is an object; only Exists and NotExists apply to it (got {operator})")
        if operator in ("Contains", "In") and prop.kind != _TEXT:
            raise ValidationException(
                f"Operator {operator} is only supported for text properties ({prop.name})")
        if operator in _COMPARISONS and prop.kind in (_TEXT, _BOOLEAN):
            raise ValidationException(
                f"Operator {operator} is not supported for {prop.kind} property {prop.name}")
        if operator == "Contains":
            self.contains += 1
            if self.contains > 1:
                raise ValidationException("'CONTAINS' operator usage limit of 1 exceeded.")
            needle = raw.lower()
            return lambda doc: any(needle in str(v).lower() for v in _typed_values(prop, doc))
        if operator == "In":
            choices = {choice.strip() for choice in raw.split(",")}
            return lambda doc: any(v in choices for v in _typed_values(prop, doc))
        value = coerce(prop, raw)
        if operator == "Equals":
            return lambda doc: value in _typed_values(prop, doc)
        if operator == "NotEquals":
            return lambda doc: value not in _typed_values(prop, doc)
        compare = _COMPARISONS[operator]
        return lambda doc: any(compare(v, value) for v in _typed_values(prop, doc))


@dataclass(frozen=True)
class CompiledExpression:
    """A predicate over documents and the property names the expression uses."""

    predicate: Predicate
    names: frozenset[str]


def compile_expression(shape: Shape, resource: str, expression: dict[str, Any] | None) -> CompiledExpression:
    """Compile a request's SearchExpression (None matches everything)."""
    if expression is None:
        return CompiledExpression(lambda doc: True, frozenset())
    compiler = _Compiler(shape, resource)
    predicate = compiler.expression(expression)
    return CompiledExpression(predicate, frozenset(compiler.names))


def required_filters(expression: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The Filters every match must satisfy: those of the top expression and of its And-ed
    SubExpressions (nothing under an ``Or``)."""
    if not expression or expression.get("Operator") == "Or":
        return []
    found = list(expression.get("Filters") or [])
    for sub in expression.get("SubExpressions") or []:
        found.extend(required_filters(sub))
    return found
