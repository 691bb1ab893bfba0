"""Control-plane handlers are synchronous (they block on the store): run each in the thread pool,
with the store's errors worded as AWS errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any

from modelyard.context import RequestContext
from modelyard.edge.services import OperationHandler
from modelyard.store.errors import DuplicateKey, StoreUnavailable
from modelyard.wire.errors import ConflictException, ServiceUnavailable

SyncHandler = Callable[[RequestContext, dict[str, Any]], Mapping[str, Any] | None]


def in_thread_pool(handlers: Mapping[str, SyncHandler], executor: Executor) -> dict[str, OperationHandler]:
    """Async handlers that run ``handlers`` in ``executor``."""
    return {name: _threaded(handler, executor) for name, handler in handlers.items()}


def _threaded(handler: SyncHandler, executor: Executor) -> OperationHandler:
    async def run(ctx: RequestContext, params: dict[str, Any]) -> Mapping[str, Any] | None:
        return await asyncio.get_running_loop().run_in_executor(executor, call_handler, handler, ctx, params)

    return run


def call_handler(handler: SyncHandler, ctx: RequestContext, params: dict[str, Any]) -> Mapping[str, Any] | None:
    """``handler(ctx, params)`` with the store's errors raised as AWS errors."""
    try:
        return handler(ctx, params)
    except DuplicateKey as exc:
        raise ConflictException(f"The request conflicts with a concurrent change: {exc}") from None
    except StoreUnavailable as exc:
        raise ServiceUnavailable(f"The metadata store is unavailable: {exc}") from None
