"""sagemaker-runtime's InvokeEndpointWithResponseStream: the model's parts as an AWS event stream.

    router -> variant -> least-outstanding instance -> invoke_stream (first byte within the invoke
    timeout, else ModelError) -> error before the first part: ModelError (424), as InvokeEndpoint
    -> 200 application/vnd.amazon.eventstream: one PayloadPart event per part, sent as it arrives
       (a handler that returned bytes: one part); a break after that: a ModelStreamError event
       (ModelInvocationTimeExceeded | StreamBroken), anything unexpected: InternalStreamFailure
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from modelyard.context import RequestContext
from modelyard.hosting.container_chain import ContainerTimeout
from modelyard.hosting.instances import Invocation, StreamedReply, StreamFailure
from modelyard.hosting.invoke import direct_invocation, endpoint_routes, model_error, pick_variant
from modelyard.hosting.router import Router
from modelyard.settings import Limits
from modelyard.wire import eventstream
from modelyard.wire.errors import RuntimeValidationError, ServiceUnavailable

log = logging.getLogger("modelyard.server")


class EventStreamBody:
    """A streamed response body: each part becomes a ``PayloadPart`` event as it arrives."""

    def __init__(self, parts: AsyncIterator[bytes] | None, whole: bytes = b"") -> None:
        self._parts = parts
        self._whole = whole
        self._done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The encoded events, in order; a failure is the stream's last event."""
        if self._parts is None:
            yield eventstream.event("PayloadPart", self._whole)
            self._done = True
            return
        try:
            async for part in self._parts:
                yield eventstream.event("PayloadPart", part)
        except StreamFailure as failure:
            yield eventstream.exception("ModelStreamError", {"Message": f"{failure.code}: {failure.message}",
                                                             "ErrorCode": failure.code})
        except Exception as exc:
            log.exception("response stream failed")
            yield eventstream.exception("InternalStreamFailure", {"Message": f"The stream failed: {exc}"})
        self._done = True

    def close(self) -> None:
        """Stop reading the model when the client went away before the end."""
        parts = self._parts
        if parts is not None and not self._done and hasattr(parts, "aclose"):
            self._done = True
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().create_task(parts.aclose())


class InvokeEndpointWithResponseStream:
    """The InvokeEndpointWithResponseStream operation over the routing table."""

    def __init__(self, router: Router, limits: Limits) -> None:
        self.router = router
        self.limits = limits

    async def __call__(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Start the model's answer and hand it to the edge as an event stream."""
        routes = endpoint_routes(self.router, ctx, params["EndpointName"])
        if routes.asynchronous is not None:
            raise RuntimeValidationError(
                f"Endpoint {routes.name} is an asynchronous inference endpoint; invoke it with InvokeEndpointAsync")
        variant = pick_variant(routes, params.get("TargetVariant"))
        instance = variant.pick()
        if instance is None:
            raise ServiceUnavailable(f"Endpoint {routes.name} has no healthy instance right now; retry shortly")
        invocation = Invocation(params["Body"], params.get("ContentType"), params.get("Accept"),
                                params.get("CustomAttributes"), params.get("InferenceId"))
        hostname = params.get("TargetContainerHostname")
        if hostname is not None or variant.direct:
            invocation = direct_invocation(routes, variant, invocation, hostname)
        timeout = self.limits.invoke_timeout_seconds
        try:
            reply: StreamedReply = await instance.invoke_stream(invocation, timeout)
        except asyncio.TimeoutError as exc:
            instance.timeouts += 1
            container = exc.container if isinstance(exc, ContainerTimeout) else "primary"
            raise model_error(routes, variant, 0, (
                f"Your invocation timed out while waiting for the first part of the response from container "
                f"{container} after {timeout:g} seconds"), container=container) from None
        except (OSError, asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ServiceUnavailable(f"The instance serving {routes.name} closed the connection ({exc}); "
                                     "retry shortly") from None
        if reply.parts is None and reply.status >= 400:
            raise model_error(routes, variant, reply.status, reply.body.decode("utf-8", "replace"))
        return {"Body": EventStreamBody(reply.parts, reply.body),
                "ContentType": reply.content_type or "application/octet-stream",
                "InvokedProductionVariant": variant.name, "CustomAttributes": reply.custom_attributes}
