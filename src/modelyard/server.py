"""ASGI application assembly: route a request to the control plane or the runtime.

    POST /  (X-Amz-Target: SageMaker.* | Logs_20140328.*)  -> control_plane() -> services (thread pool)
    POST /endpoints/{name}/invocations[...]                 -> the runtime handler (modelyard.hosting)
    GET  /_modelyard/health                                 -> 200

The control-plane pipeline, in order: read body (size limit) -> authenticate (region, account) ->
decode + validate against botocore's model -> dispatch -> encode. Every error becomes an AWS error
response; the catch-all is outermost.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from modelyard.services.context import AppState, RequestContext
from modelyard.services.dispatch import handler_for
from modelyard.store.errors import DuplicateKey, StoreUnavailable
from modelyard.wire import json_protocol
from modelyard.wire.asgi import BodyTooLarge, Receive, Scope, Send, read_body, respond
from modelyard.wire.auth import Authenticator, UnverifiedAuthenticator
from modelyard.wire.errors import (
    ConflictException,
    InternalFailure,
    NotImplementedOperation,
    RequestTooLarge,
    ServiceError,
    ServiceUnavailable,
    UnknownOperationException,
)

log = logging.getLogger("modelyard.server")

RuntimeHandler = Callable[[Scope, Receive, Send], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


class ModelyardApp:
    """The ASGI application."""

    def __init__(self, state: AppState, *, authenticator: Authenticator | None = None,
                 workers: int = 16) -> None:
        self.state = state
        self.authenticator = authenticator or UnverifiedAuthenticator()
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="control")
        self.runtime: RuntimeHandler | None = None
        self.on_startup: list[Hook] = []
        self.on_shutdown: list[Hook] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for hook in self.on_startup:
                        await hook()
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for hook in reversed(self.on_shutdown):
                    try:
                        await hook()
                    except Exception:
                        log.exception("shutdown hook failed")
                self.executor.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path.startswith("/endpoints/") and self.runtime is not None:
            await self.runtime(scope, receive, send)
        elif path == "/" and scope["method"] == "POST":
            await self.control_plane(scope, receive, send)
        elif path == "/_modelyard/health":
            await respond(send, 200, [(b"content-type", b"application/json")], b'{"status":"ok"}')
        else:
            no_route = UnknownOperationException(
                f"No route for {scope['method']} {path}: control-plane calls are POST / with "
                "X-Amz-Target; invocations are POST /endpoints/<name>/invocations")
            await respond(send, *json_protocol.encode_error(no_route, str(uuid.uuid4())))

    async def control_plane(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one AWS JSON 1.1 request."""
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        try:
            status, headers, body = await self._control_plane(scope, receive, request_id)
        except ServiceError as error:
            status, headers, body = json_protocol.encode_error(error, request_id)
        except Exception:
            log.exception("internal failure in request %s", request_id)
            failure = InternalFailure(f"modelyard hit an internal error; see the server log for request {request_id}")
            status, headers, body = json_protocol.encode_error(failure, request_id)
        elapsed_ms = (time.perf_counter() - started) * 1000
        headers.append((b"server-timing", f"app;dur={elapsed_ms:.3f}".encode()))
        await respond(send, status, headers, body)

    async def _control_plane(self, scope: Scope, receive: Receive,
                             request_id: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        limit = self.state.settings.limits.control_body_bytes
        try:
            body = await read_body(receive, limit)
        except BodyTooLarge as exc:
            raise RequestTooLarge(f"Request body of more than {exc.args[0]} bytes exceeds the limit of "
                                  f"{limit} bytes") from None
        headers = _headers(scope)
        principal = self.authenticator.verify(scope["method"], scope["path"], headers, body)
        request = json_protocol.decode_request(headers.get("x-amz-target"), body)
        name = request.operation.name
        handler = handler_for(request.service, name)
        if handler is None:
            raise NotImplementedOperation(
                f"modelyard does not implement {request.service} operation {name} yet "
                "(see docs/IMPLEMENTATION_COVERAGE.md for what is implemented)")
        settings = self.state.settings
        ctx = RequestContext(account=settings.account_id, region=principal.region or settings.default_region,
                             request_id=request_id, app=self.state, operation=name)
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self.executor, _call, handler, ctx, request.params)
        response_headers = [(b"content-type", json_protocol.CONTENT_TYPE.encode()),
                            (b"x-amzn-requestid", request_id.encode())]
        return 200, response_headers, json_protocol.encode_result(request.operation, result)


def _call(handler: Any, ctx: RequestContext, params: dict[str, Any]) -> Any:
    try:
        return handler(ctx, params)
    except DuplicateKey as exc:
        raise ConflictException(f"The request conflicts with a concurrent change: {exc}") from None
    except StoreUnavailable as exc:
        raise ServiceUnavailable(f"The metadata store is unavailable: {exc}") from None
