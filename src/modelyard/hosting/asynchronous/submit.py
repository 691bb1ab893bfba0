"""sagemaker-runtime's InvokeEndpointAsync: check, store the request durably, answer 202 at once.

    InputLocation (s3://, in a bucket the caller may read) xor an inline Body (<= 128,000 bytes, stored
    in the same row) -> async_invocations row -> wake the drainer ->
    202 {InferenceId} + X-Amzn-SageMaker-OutputLocation [+ -FailureLocation]
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

from modelyard.context import RequestContext
from modelyard.hosting.asynchronous.backlog import Backlog
from modelyard.hosting.asynchronous.requests import (
    DEFAULT_INVOCATION_TIMEOUT_SECONDS,
    DEFAULT_TTL_SECONDS,
    AsyncRequest,
    failure_location,
    output_location,
)
from modelyard.hosting.invoke import endpoint_routes
from modelyard.hosting.router import Router
from modelyard.storage.errors import ForbiddenLocationError, InvalidLocationError
from modelyard.storage.local_policy import LocalPathPolicy
from modelyard.storage.uris import parse_location
from modelyard.store.async_invocations import QueuedInvocation, insert_async_invocation
from modelyard.wire.errors import RuntimeValidationError


class InvokeEndpointAsync:
    """The InvokeEndpointAsync operation: a durable queue entry per accepted request."""

    def __init__(self, router: Router, backlog: Backlog, wake: Callable[[], None]) -> None:
        self.router = router
        self.backlog = backlog
        self.wake = wake

    async def __call__(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Queue one request and say where its answer will be."""
        routes = endpoint_routes(self.router, ctx, params["EndpointName"])
        config = routes.asynchronous
        if config is None:
            raise RuntimeValidationError(
                f"Endpoint {routes.name} is not an asynchronous inference endpoint (its endpoint configuration "
                "has no AsyncInferenceConfig); invoke it with InvokeEndpoint")
        body: bytes = params.get("Body") or b""
        location = params.get("InputLocation")
        if location and body:
            raise RuntimeValidationError("Give either InputLocation or an inline Body, not both")
        if not location and not body:
            raise RuntimeValidationError(
                "InputLocation is required: upload the request payload to S3 and pass its s3:// URI "
                "(or send an inline Body of at most 128,000 bytes)")
        if location:
            self._check_input(ctx, location)
        invocation_id = uuid.uuid4().hex
        inference_id = params.get("InferenceId") or str(uuid.uuid4())
        now = time.time()
        ttl = int(params.get("RequestTTLSeconds") or DEFAULT_TTL_SECONDS)
        extension, filename = params.get("S3OutputPathExtension"), params.get("Filename")
        request = AsyncRequest(
            inference_id=inference_id, input_location=location or "", inline=not location,
            output_location=output_location(config.output_path, inference_id, extension, filename),
            failure_location=failure_location(config.failure_path, inference_id, extension, filename),
            content_type=params.get("ContentType"), accept=params.get("Accept"),
            custom_attributes=params.get("CustomAttributes"),
            timeout_seconds=int(params.get("InvocationTimeoutSeconds") or DEFAULT_INVOCATION_TIMEOUT_SECONDS),
            received_at=now, expires_at=now + ttl)
        queued = QueuedInvocation(invocation_id, ctx.account, ctx.region, routes.name, inference_id, 0, now,
                                  now + ttl, request.to_json(), body or None)
        await asyncio.to_thread(self._store, ctx, queued)
        self.backlog.added((ctx.account, ctx.region, routes.name), invocation_id, now)
        self.wake()
        return {"InferenceId": inference_id, "OutputLocation": request.output_location,
                "FailureLocation": request.failure_location}

    def _check_input(self, ctx: RequestContext, location: str) -> None:
        if not location.startswith("s3://"):
            raise RuntimeValidationError(
                f"InputLocation {location!r}: modelyard reads asynchronous inputs from s3:// URIs only")
        try:
            parsed = parse_location(location)
            LocalPathPolicy.from_settings(ctx.settings).check(parsed)
        except (InvalidLocationError, ForbiddenLocationError) as exc:
            raise RuntimeValidationError(f"InputLocation {location!r} is not usable: {exc}") from None
        buckets = ctx.app.buckets
        if buckets is not None and parsed.bucket:
            owner = buckets.owner(parsed.bucket)
            if owner is not None and owner != ctx.account:
                raise RuntimeValidationError(
                    f"InputLocation names bucket {parsed.bucket}, which belongs to another account (AccessDenied)")

    @staticmethod
    def _store(ctx: RequestContext, queued: QueuedInvocation) -> None:
        with ctx.db.session(write=True) as conn:
            insert_async_invocation(conn, queued)
