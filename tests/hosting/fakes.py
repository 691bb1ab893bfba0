"""In-process stand-ins for the invoke path's collaborators: instances and request contexts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from modelyard.context import AppState, RequestContext
from modelyard.hosting.instances import Invocation, Reply
from modelyard.hosting.router import EndpointRoutes, VariantRoutes


@dataclass
class FakeInstance:
    """An instance that answers with ``reply`` (or raises what ``fail`` returns) and records calls."""

    name: str
    outstanding: int = 0
    timeouts: int = 0
    reply: Reply = field(default_factory=lambda: Reply(200, b"ok", "text/plain"))
    fail: Callable[[], BaseException] | None = None
    calls: list[Invocation] = field(default_factory=list)

    async def invoke(self, invocation: Invocation, timeout: float) -> Reply:
        self.calls.append(invocation)
        if self.fail is not None:
            raise self.fail()
        return self.reply

    async def ping(self, timeout: float) -> bool:
        return True

    async def execution_parameters(self, timeout: float) -> bytes | None:
        return None

    async def close(self) -> None:
        return None


def variant(name: str, weight: float, *instances: FakeInstance) -> VariantRoutes:
    """A variant serving ``instances``."""
    return VariantRoutes(name, weight, list(instances))  # type: ignore[arg-type]


def endpoint(name: str, *variants: VariantRoutes, status: str = "InService",
             draw: Callable[[], float] | None = None) -> EndpointRoutes:
    """An endpoint's routes; ``draw`` replaces the random source of the weighted pick."""
    extra: dict[str, Any] = {} if draw is None else {"draw": draw}
    return EndpointRoutes(name, f"arn:aws:sagemaker:us-east-1:000000000000:endpoint/{name}",
                          f"arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/{name}",
                          {v.name: v for v in variants}, status, **extra)


def context(account: str = "000000000000", region: str = "us-east-1") -> RequestContext:
    """A request context for handlers that use only the caller's identity."""
    return RequestContext(account=account, region=region, request_id="test", app=cast(AppState, None))
