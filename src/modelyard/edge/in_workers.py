"""Operations that run in the control worker processes (``edge.worker_pool``) instead of the server's
thread pool: those whose Python work is heavy enough that, holding the GIL, they would starve the
event loop and with it every invocation (Search filters and sorts its records in Python).

The server side sends the request's identity and validated parameters to a worker; the worker runs
the same synchronous handler against its own connection to the store, in an ``AppState`` built once
per worker by ``install`` (the composition root's worker bootstrap), and sends the result back.
Handlers chosen for workers read the store only: a worker has no controllers to notify.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from modelyard.context import AppState, RequestContext
from modelyard.edge.services import OperationHandler
from modelyard.edge.threaded import SyncHandler, call_handler
from modelyard.wire.errors import ServiceUnavailable

_state: list[AppState] = []
_handlers: dict[tuple[str, str], SyncHandler] = {}


def install(state: AppState, handlers: Mapping[tuple[str, str], SyncHandler]) -> None:
    """Make this worker process ready to run ``handlers`` (keyed by service and operation)."""
    _state[:] = [state]
    _handlers.clear()
    _handlers.update(handlers)


def run_in_worker(service: str, operation: str, account: str, region: str, request_id: str, now: float,
                  params: dict[str, Any]) -> Mapping[str, Any] | None:
    """In a worker: the installed handler's answer to one request."""
    if not _state:
        raise RuntimeError("this control worker was started without a state to serve requests")
    ctx = RequestContext(account=account, region=region, request_id=request_id, app=_state[0],
                         operation=operation, now=now)
    return call_handler(_handlers[(service, operation)], ctx, params)


def in_worker_processes(service: str, names: set[str], pool: Executor) -> dict[str, OperationHandler]:
    """Async handlers that send ``service``'s operations ``names`` to the worker ``pool``."""
    return {name: _sent(service, name, pool) for name in names}


def _sent(service: str, operation: str, pool: Executor) -> OperationHandler:
    async def run(ctx: RequestContext, params: dict[str, Any]) -> Mapping[str, Any] | None:
        try:
            return await asyncio.get_running_loop().run_in_executor(
                pool, run_in_worker, service, operation, ctx.account, ctx.region, ctx.request_id, ctx.now, params)
        except BrokenProcessPool:
            raise ServiceUnavailable("The control worker process running the request failed; retry it") from None

    return run
