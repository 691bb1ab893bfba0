"""The sagemaker-runtime invoke path.

    POST /endpoints/{name}/invocations
      -> read body (<= 6 MB) -> decode headers (rest_json) -> router: variant, least-outstanding instance
      -> one frame to the instance (timeout 60 s) -> 200 with the model's body, or ModelError (424)

Errors follow SageMaker: unknown or not-InService endpoint and bad headers are ``ValidationError``;
a handler failure is ``ModelError`` with ``OriginalStatusCode``, ``OriginalMessage``, ``LogStreamArn``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any
from urllib.parse import parse_qsl

from modelyard.hosting.instances import Invocation, Reply
from modelyard.hosting.router import EndpointRoutes, Router, VariantRoutes
from modelyard.settings import Settings
from modelyard.wire.asgi import BodyTooLarge, Receive, Scope, Send, read_body, respond
from modelyard.wire.auth import parse_authorization
from modelyard.wire.errors import (
    ModelError,
    NotImplementedOperation,
    RequestTooLarge,
    RuntimeValidationError,
    ServiceError,
    ServiceUnavailable,
    UnknownOperationException,
)
from modelyard.wire.rest_json import RestService, encode_error

log = logging.getLogger("modelyard.hosting")

IMPLEMENTED_OPERATIONS = frozenset({"InvokeEndpoint"})


class RuntimeApi:
    """ASGI handler for everything under ``/endpoints/``."""

    def __init__(self, router: Router, settings: Settings) -> None:
        self.router = router
        self.settings = settings
        self.rest = RestService("sagemaker-runtime")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        try:
            status, headers, body = await self._handle(scope, receive, request_id)
        except ServiceError as error:
            status, headers, body = encode_error(error, request_id)
        except Exception:
            log.exception("internal failure in invocation %s", request_id)
            status, headers, body = encode_error(ServiceUnavailable(
                f"modelyard failed to route the invocation; see the server log for request {request_id}"),
                request_id)
        await respond(send, status, headers, body)

    async def _handle(self, scope: Scope, receive: Receive,
                      request_id: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        found = self.rest.match(scope["method"], scope["path"])
        if found is None:
            raise UnknownOperationException(f"No runtime operation for {scope['method']} {scope['path']}")
        route, match = found
        limits = self.settings.limits
        try:
            body = await read_body(receive, limits.invoke_body_bytes)
        except BodyTooLarge:
            raise RequestTooLarge(f"Request payload exceeds the limit of {limits.invoke_body_bytes} bytes; "
                                  "send large payloads with InvokeEndpointAsync") from None
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        try:
            params = route.decode(match, headers, query, body)
        except ServiceError as exc:
            raise RuntimeValidationError(exc.message) from None
        if route.operation.name not in IMPLEMENTED_OPERATIONS:
            raise NotImplementedOperation(f"modelyard does not implement {route.operation.name} yet")
        region = parse_authorization(headers.get("authorization")).region or self.settings.default_region
        result = await self.invoke(region, params)
        return route.encode(result)

    def _endpoint(self, region: str, name: str) -> EndpointRoutes:
        routes = self.router.get(region, name)
        if routes is None:
            raise RuntimeValidationError(f"Endpoint {name} of account {self.settings.account_id} not found.")
        if routes.status not in ("InService", "Updating"):
            raise RuntimeValidationError(
                f"Endpoint {name} of account {self.settings.account_id} is {routes.status}; "
                "it can be invoked once it is InService.")
        return routes

    def _variant(self, routes: EndpointRoutes, target: str | None) -> VariantRoutes:
        if target:
            variant = routes.variants.get(target)
            if variant is None:
                raise RuntimeValidationError(
                    f"Variant {target} not found for endpoint {routes.name}; its variants are "
                    f"{sorted(routes.variants)}")
            return variant
        variant = routes.pick_variant()
        if variant is None:
            raise ServiceUnavailable(f"Endpoint {routes.name} has no healthy instance right now; retry shortly")
        return variant

    async def invoke(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        """Route one InvokeEndpoint call and map the instance's answer to SageMaker's."""
        routes = self._endpoint(region, params["EndpointName"])
        variant = self._variant(routes, params.get("TargetVariant"))
        invocation = Invocation(params["Body"], params.get("ContentType"), params.get("Accept"),
                                params.get("CustomAttributes"), params.get("InferenceId"), params.get("TargetModel"))
        reply = await self._call(routes, variant, invocation)
        limit = self.settings.limits.invoke_body_bytes
        if reply.status >= 400:
            raise _model_error(routes, variant, reply.status, reply.body.decode("utf-8", "replace"))
        if len(reply.body) > limit:
            raise _model_error(routes, variant, 500,
                               f"The model's response of {len(reply.body)} bytes exceeds the limit of {limit} bytes")
        return {"Body": reply.body, "ContentType": reply.content_type or "application/json",
                "InvokedProductionVariant": variant.name, "CustomAttributes": reply.custom_attributes}

    async def _call(self, routes: EndpointRoutes, variant: VariantRoutes, invocation: Invocation) -> Reply:
        timeout = self.settings.limits.invoke_timeout_seconds
        for attempt in range(2):
            instance = variant.pick()
            if instance is None:
                raise ServiceUnavailable(f"Variant {variant.name} of endpoint {routes.name} has no healthy "
                                         "instance right now; retry shortly")
            try:
                return await instance.invoke(invocation, timeout)
            except asyncio.TimeoutError:
                raise _model_error(routes, variant, 0, (
                    f"Your invocation timed out while waiting for a response from container primary after "
                    f"{timeout:g} seconds")) from None
            except (OSError, asyncio.IncompleteReadError, ConnectionError):
                if attempt == 1:
                    raise ServiceUnavailable(f"The instance serving {routes.name} closed the connection; "
                                             "it is being restarted, retry shortly") from None
        raise AssertionError("unreachable")


def _model_error(routes: EndpointRoutes, variant: VariantRoutes, status: int, message: str) -> ModelError:
    kind = "client" if 400 <= status < 500 else "server"
    text = (f'Received {kind} error ({status}) from primary with message "{message}". '
            f"See {routes.log_group_arn} for more information.")
    return ModelError(text, OriginalStatusCode=status, OriginalMessage=message, LogStreamArn=routes.log_group_arn)
