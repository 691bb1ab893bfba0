"""Calling a user hook with or without the optional trailing ``context``.

Decided once per hook from its signature, looking at ``Parameter.kind``: a hook takes the
context when it has room for one positional argument more than the required ones, when it
has ``*args``, or when it has a keyword-only parameter named ``context``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from modelyard.toolkit.errors import HandlerContractError

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)

POSITIONAL = "positional"
KEYWORD = "keyword"


def context_mode(func: Callable[..., Any], name: str, arguments: tuple[str, ...]) -> str | None:
    """How ``func`` receives the context: ``"positional"``, ``"keyword"`` or None (not at all).

    Raises HandlerContractError when ``func`` cannot be called with ``arguments``.
    """
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = [p for p in parameters if p.kind in _POSITIONAL]
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    keyword_only = {p.name: p for p in parameters if p.kind == inspect.Parameter.KEYWORD_ONLY}
    has_varargs = any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in parameters)
    count = len(arguments)
    missing_keyword = [p.name for p in keyword_only.values()
                       if p.default is inspect.Parameter.empty and p.name != "context"]
    if len(required) > count + 1 or missing_keyword or (len(positional) < count and not has_varargs):
        raise HandlerContractError(
            f"{name} must accept ({', '.join(arguments)}[, context]); its signature is "
            f"{name}{inspect.signature(func)}")
    if len(required) == count + 1 or len(positional) > count or has_varargs:
        return POSITIONAL
    if "context" in keyword_only:
        return KEYWORD
    return None


class Hook:
    """A resolved hook: call it with its regular arguments and the request's context."""

    __slots__ = ("func", "name", "mode", "is_default")

    def __init__(self, func: Callable[..., Any], name: str, arguments: tuple[str, ...],
                 is_default: bool = False) -> None:
        self.func = func
        self.name = name
        self.is_default = is_default
        self.mode = context_mode(func, name, arguments)

    def __call__(self, context: Any, *args: Any) -> Any:
        if self.mode is None:
            return self.func(*args)
        if self.mode == POSITIONAL:
            return self.func(*args, context)
        return self.func(*args, context=context)
