"""Refusing request members that modelyard would store but not act on.

A rule names a member by its path in the request and says when a value is *active* (asks for
behaviour modelyard does not have). Inactive values - absent, empty, ``False``, the one setting
that matches what modelyard does - pass, so SDK defaults keep working::

    Unsupported("ProductionVariants[].ServerlessConfig", "serverless inference is not implemented; ...")
        ProductionVariants=[{..., "ServerlessConfig": {...}}]
        -> ValidationException "ProductionVariants[0].ServerlessConfig is not supported by modelyard yet: ..."

``[]`` in a path walks every item of a list. The rule tables live beside the services they guard
(``unsupported_hosting``, ``unsupported_jobs``, ``unsupported_registry``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from modelyard.wire.errors import ValidationException

Activity = Callable[[Any], bool]


def present(value: Any) -> bool:
    """Given with some content: not None, not an empty list or map."""
    return value is not None and value != [] and value != {}


def enabled(value: Any) -> bool:
    """Set to ``True``."""
    return value is True


def equals(*values: Any) -> Activity:
    """Active when the value is one of ``values``."""
    return lambda value: value in values


def other_than(*values: Any) -> Activity:
    """Active when given with a value outside ``values`` (the settings modelyard honours)."""
    return lambda value: value is not None and value not in values


def with_any(*members: str) -> Activity:
    """Active when the given structure sets one of ``members`` to a value with content."""
    return lambda value: isinstance(value, dict) and any(present(value.get(m)) for m in members)


@dataclass(frozen=True)
class Unsupported:
    """One request member modelyard does not act on (when ``active``), and what to do instead."""

    path: str
    advice: str
    active: Activity = field(default=present)


def _found(node: Any, parts: list[str], where: str) -> Iterator[tuple[str, Any]]:
    if not parts:
        yield where, node
        return
    if not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    name, many = (head[:-2], True) if head.endswith("[]") else (head, False)
    value = node.get(name)
    if value is None:
        return
    here = f"{where}.{name}" if where else name
    if not many:
        yield from _found(value, rest, here)
        return
    for index, item in enumerate(value if isinstance(value, list) else []):
        yield from _found(item, rest, f"{here}[{index}]")


def refuse_unsupported(request: dict[str, Any], rules: tuple[Unsupported, ...]) -> None:
    """Raise ``ValidationException`` naming the first active unsupported member of ``request``."""
    for rule in rules:
        for where, value in _found(request, rule.path.split("."), ""):
            if rule.active(value):
                raise ValidationException(f"{where} is not supported by modelyard yet: {rule.advice}")
