"""The operation table: ``@operation("sagemaker", "CreateModel")`` registers a handler.

A handler takes ``(ctx, request)`` (the validated request dictionary, wire member names) and returns
the result dictionary (wire member names), or raises a ``ServiceError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelyard.context import RequestContext

Handler = Callable[[RequestContext, dict[str, Any]], dict[str, Any] | None]

_HANDLERS: dict[tuple[str, str], Handler] = {}


def operation(service: str, name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``service``'s operation ``name``."""

    def register(handler: Handler) -> Handler:
        key = (service, name)
        if key in _HANDLERS:
            raise RuntimeError(f"operation {service}.{name} registered twice")
        _HANDLERS[key] = handler
        return handler

    return register


def implemented(service: str) -> set[str]:
    """Names of the implemented operations of a service."""
    return {name for svc, name in _HANDLERS if svc == service}


def handlers(service: str) -> dict[str, Handler]:
    """The registered handlers of a service by operation name."""
    return {name: handler for (svc, name), handler in _HANDLERS.items() if svc == service}
