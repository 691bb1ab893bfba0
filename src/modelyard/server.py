"""The ASGI application: lifespan hooks, the health check, and every other request through the pipeline.

    GET  /_modelyard/health   -> 200 {"status":"ok"}
    a claimed route           -> its handler (``GET /metrics``: edge.prometheus)
    anything else             -> edge.Pipeline (POST / for JSON services, /endpoints/* for the runtime)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from modelyard.wire.asgi import Receive, Scope, Send, offers_zero_copy, respond
from modelyard.wire.protocol import Response

log = logging.getLogger("modelyard.server")

Hook = Callable[[], Awaitable[None]]
RequestHandler = Callable[[Scope, Receive], Awaitable[Response]]
RouteClaim = Callable[[Scope], bool]
RouteHandler = Callable[[Scope], Awaitable[Response]]

HEALTH_PATH = "/_modelyard/health"


class ModelyardApp:
    """The ASGI application; ``handle`` answers every HTTP request but the health check."""

    def __init__(self, handle: RequestHandler) -> None:
        self.handle = handle
        self.routes: list[tuple[RouteClaim, RouteHandler]] = []
        """Bodiless requests answered beside the pipeline, asked in order before it."""
        self.on_startup: list[Hook] = []
        self.on_shutdown: list[Hook] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if scope["path"] == HEALTH_PATH:
                await respond(send, 200, [(b"content-type", b"application/json")], b'{"status":"ok"}')
                return
            for claims, route in self.routes:
                if claims(scope):
                    await respond(send, *await route(scope))
                    return
            await respond(send, *await self.handle(scope, receive), zero_copy=offers_zero_copy(scope))
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
                await send({"type": "lifespan.shutdown.complete"})
                return
