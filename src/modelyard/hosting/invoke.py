"""sagemaker-runtime's InvokeEndpoint, an async operation handler awaited on the event loop.

    (pipeline: route, body <= 6 MB, authenticate, account/region, decode headers)
      -> InvokeEndpoint.__call__: router (account, region, name) -> variant (weight | TargetVariant)
      -> serverless: admit under MaxConcurrency (else ThrottlingException), cold-start on demand
      -> least-outstanding instance -> one frame to the instance (timeout 60 s)
      -> the model's body, or ModelError (424)
      -> a capturing endpoint: sample, and queue the call for its capture writer (never waits)
      -> a config with a shadow variant: a sampled copy goes to it in the background (hosting/shadow.py)
      -> the endpoint meter counts the call (outcome, model and overhead latency; in memory only)

Errors follow SageMaker: unknown or not-InService endpoint, an asynchronous endpoint (it takes only
InvokeEndpointAsync), an unknown variant, and a TargetContainerHostname missing on a Direct multi-container
endpoint, unknown, or sent to any other endpoint are ``ValidationError``; a handler failure is ``ModelError``
(naming the failing container of a multi-container model) with ``OriginalStatusCode``, ``OriginalMessage``,
``LogStreamArn``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, cast

from modelyard.context import RequestContext
from modelyard.hosting.activity import InvokeActivity
from modelyard.hosting.capture.records import CapturedEvent
from modelyard.hosting.container_chain import ContainerTimeout
from modelyard.hosting.instances import ChainReply, DirectInvocation, Ending, InstanceClient, Invocation, Reply
from modelyard.hosting.model_targets import checked_target
from modelyard.hosting.router import SERVING_STATUSES, EndpointRoutes, Router, VariantRoutes
from modelyard.hosting.serverless import SERVERLESS_PAYLOAD_BYTES, ServerlessGate
from modelyard.hosting.shadow import ShadowCopier
from modelyard.metrics.endpoint_meter import CLIENT_ERROR, OK, SERVER_ERROR, EndpointMeter
from modelyard.settings import Limits
from modelyard.wire.errors import (
    ModelError,
    ModelNotReadyException,
    NotImplementedOperation,
    RequestTooLarge,
    RuntimeValidationError,
    ServiceError,
    ServiceUnavailable,
    ThrottlingException,
)

END_WAIT_SECONDS = 1.0
PRIMARY = "primary"
"""How SageMaker's errors name the container of a single-container model."""


class InvokeEndpoint:
    """The InvokeEndpoint operation over the routing table."""

    def __init__(self, router: Router, limits: Limits, meter: EndpointMeter | None = None,
                 activity: InvokeActivity | None = None) -> None:
        self.router = router
        self.limits = limits
        self.meter = meter
        self.activity = activity
        self.shadow = ShadowCopier(limits.invoke_timeout_seconds, meter)

    async def __call__(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Route one call in the caller's account and region and map the instance's answer to SageMaker's;
        a routed call is counted in the endpoint's metrics (outcome and latencies)."""
        started = time.perf_counter()
        if self.activity is not None:
            self.activity.mark(started)
        routes = endpoint_routes(self.router, ctx, params["EndpointName"])
        if routes.asynchronous is not None:
            raise RuntimeValidationError(
                f"Endpoint {routes.name} is an asynchronous inference endpoint; invoke it with "
                "InvokeEndpointAsync (InputLocation in S3), not InvokeEndpoint")
        variant = pick_variant(routes, params.get("TargetVariant"))
        if routes.shadow is not None:
            self.shadow.offer(ctx.account, ctx.region, routes, _invocation(params))
        meter = self.meter
        if meter is None:
            return (await self._answer(routes, variant, params))[0]
        outcome, failed_in_model, model_seconds = OK, False, None
        containers: tuple[tuple[str, float], ...] = ()
        try:
            result, model_seconds, containers = await self._answer(routes, variant, params)
            return result
        except ModelError as error:
            original = error.fields.get("OriginalStatusCode", 0)
            outcome, failed_in_model = (CLIENT_ERROR if 400 <= original < 500 else SERVER_ERROR), True
            model_seconds, containers = error.model_seconds, error.container_seconds
            raise
        except ServiceError as error:
            outcome = CLIENT_ERROR if error.status < 500 else SERVER_ERROR
            raise
        except Exception:
            outcome = SERVER_ERROR
            raise
        finally:
            overhead = time.perf_counter() - started - (model_seconds or 0.0)
            meter.record(ctx.account, ctx.region, routes.name, variant.name, len(variant.instances), model_seconds,
                         overhead, outcome, failed_in_model, containers)

    async def _answer(self, routes: EndpointRoutes, variant: VariantRoutes,
                      params: dict[str, Any]) -> tuple[dict[str, Any], float, tuple[tuple[str, float], ...]]:
        """The result, the model's share of the time (from sending the call to its reply) and, for a
        multi-container variant, each called container's."""
        if variant.multi_model:
            checked_target(params.get("TargetModel"), routes.name)
        elif params.get("TargetModel"):
            raise RuntimeValidationError(f"Endpoint {routes.name} is not a multi-model endpoint and does not support "
                                         "target model header; omit TargetModel, or deploy a Mode MultiModel model")
        invocation = _invocation(params)
        hostname = params.get("TargetContainerHostname")
        if hostname is not None or variant.direct:
            invocation = direct_invocation(routes, variant, invocation, hostname)
        gate = variant.serverless
        limit = self.limits.invoke_body_bytes
        if gate is not None:
            limit = min(SERVERLESS_PAYLOAD_BYTES, limit)
            if len(invocation.body) > limit:
                raise payload_too_large(len(invocation.body), limit)
        sent = 0.0  # set when the call goes to an instance (after any serverless cold start): the model's time
        try:
            if gate is None:
                sent = time.perf_counter()
                reply = await self._call(routes, variant, invocation)
            else:
                if not gate.admit():
                    raise ThrottlingException(
                        f"Endpoint {routes.name} is already handling its MaxConcurrency of "
                        f"{gate.shape.max_concurrency} concurrent invocations; retry with backoff or raise "
                        "MaxConcurrency")
                try:
                    gate.want_capacity(variant.instances)
                    if not variant.instances:
                        await self._cold_start(routes, variant, gate)
                    sent = time.perf_counter()
                    reply = await self._call(routes, variant, invocation)
                finally:
                    gate.leave()
        except ModelError as error:
            if sent:
                error.model_seconds = time.perf_counter() - sent
            raise
        model_seconds = time.perf_counter() - sent
        chained = cast(ChainReply, reply) if variant.containers else None
        if reply.status >= 400:
            failure = model_error(routes, variant, reply.status, reply.body.decode("utf-8", "replace"),
                                  model_seconds, chained.container if chained else PRIMARY)
            failure.container_seconds = chained.container_seconds if chained else ()
            raise failure
        if len(reply.body) > limit:
            raise model_error(routes, variant, 500,
                              f"The model's response of {len(reply.body)} bytes exceeds the limit of {limit} bytes",
                              model_seconds)
        content_type = reply.content_type or "application/json"
        capture = routes.capture
        if capture is not None and capture.sampled():
            capture.offer(CapturedEvent(variant.name, time.time(), invocation.inference_id, invocation.content_type,
                                        invocation.body, content_type, reply.body))
        return ({"Body": reply.body, "ContentType": content_type,
                 "InvokedProductionVariant": variant.name, "CustomAttributes": reply.custom_attributes}, model_seconds,
                chained.container_seconds if chained else ())

    async def _cold_start(self, routes: EndpointRoutes, variant: VariantRoutes, gate: ServerlessGate) -> None:
        """For an admitted call to a serverless variant with no instance: wait for the one its gate is starting
        (overhead, not model time, as SageMaker counts it)."""
        timeout = self.limits.invoke_timeout_seconds
        if not await gate.wait_for_instance(timeout):
            raise ModelNotReadyException(
                f"Endpoint {routes.name} is starting an instance for this call (serverless cold start) "
                f"and it was not ready within {timeout:g} seconds; retry shortly")
        if gate.failure is not None and not variant.instances:
            raise model_error(routes, variant, 500, gate.failure)

    async def _call(self, routes: EndpointRoutes, variant: VariantRoutes, invocation: Invocation) -> Reply:
        """One retry on another pick when an instance drops the call. An instance killed meanwhile for
        breaking a limit of its container is the model's failure: ModelError with the reason; any other
        end is ServiceUnavailable (the instance is being restarted)."""
        timeout = self.limits.invoke_timeout_seconds
        failed: InstanceClient | None = None
        for _ in range(2):
            instance = variant.pick_for(invocation.target_model) if variant.multi_model and \
                invocation.target_model else variant.pick()
            if instance is None:
                break
            try:
                return await instance.invoke(invocation, timeout)
            except asyncio.TimeoutError as exc:
                instance.timeouts += 1
                container = exc.container if isinstance(exc, ContainerTimeout) else PRIMARY
                raise model_error(routes, variant, 0, (
                    f"Your invocation timed out while waiting for a response from container {container} after "
                    f"{timeout:g} seconds"), container=container) from None
            except (OSError, asyncio.IncompleteReadError, ConnectionError):
                failed = failed or instance
        if failed is None:
            raise ServiceUnavailable(f"Variant {variant.name} of endpoint {routes.name} has no healthy "
                                     "instance right now; retry shortly")
        ending = await _ending(failed)
        if ending is not None and ending.limit is not None:
            raise model_error(routes, variant, 500, f"The instance serving {routes.name} stopped while "
                              f"handling the invocation: it was {ending.limit}")
        raise ServiceUnavailable(f"The instance serving {routes.name} closed the connection; "
                                 "it is being restarted, retry shortly")


def _invocation(params: dict[str, Any]) -> Invocation:
    return Invocation(params["Body"], params.get("ContentType"), params.get("Accept"),
                      params.get("CustomAttributes"), params.get("InferenceId"), params.get("TargetModel"))


def pick_variant(routes: EndpointRoutes, target: str | None) -> VariantRoutes:
    """``TargetVariant`` (ValidationError when unknown), else a variant by weight (ServiceUnavailable
    when none has an instance)."""
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


def endpoint_routes(router: Router, ctx: RequestContext, name: str) -> EndpointRoutes:
    """The caller's endpoint as the invoke path sees it (the green fleet for its share of calls while an
    update shifts traffic); ValidationError when it is unknown or not in service."""
    routes = router.get(ctx.account, ctx.region, name)
    if routes is None:
        raise RuntimeValidationError(f"Endpoint {name} of account {ctx.account} not found.")
    if routes.status not in SERVING_STATUSES:
        raise RuntimeValidationError(
            f"Endpoint {name} of account {ctx.account} is {routes.status}; "
            "it can be invoked once it is InService.")
    return routes.fleet()


async def _ending(instance: InstanceClient) -> Ending | None:
    """How the instance's container ended, waiting up to ``END_WAIT_SECONDS`` for it to settle (a
    container killed for its memory limit goes down whole a moment after its first process); None
    while it keeps running."""
    probe: Callable[[], Ending | None] | None = getattr(instance, "ended", None)
    if probe is None:
        return None
    for _ in range(int(END_WAIT_SECONDS / 0.05)):
        ending = probe()
        if ending is not None:
            return ending
        await asyncio.sleep(0.05)
    return None


def model_error(routes: EndpointRoutes, variant: VariantRoutes, status: int, message: str,
                model_seconds: float | None = None, container: str = PRIMARY) -> ModelError:
    """SageMaker's ModelError (424) for a container's error answer (``model_seconds``: how long the
    container had the call, for the endpoint's metrics; ``container``: which container answered, the
    single container being ``primary``)."""
    kind = "client" if 400 <= status < 500 else "server"
    text = (f'Received {kind} error ({status}) from {container} with message "{message}". '
            f"See {routes.log_group_arn} for more information.")
    error = ModelError(text, OriginalStatusCode=status, OriginalMessage=message, LogStreamArn=routes.log_group_arn)
    error.model_seconds = model_seconds
    return error


def direct_invocation(routes: EndpointRoutes, variant: VariantRoutes, invocation: Invocation,
                      hostname: str | None) -> DirectInvocation:
    """``invocation`` for the container ``TargetContainerHostname`` names. The header is required on a
    Direct multi-container endpoint and must name one of its containers, and is refused anywhere else.
    SageMaker answers each case with a ValidationError (the developer guide's "Invoke a multi-container
    endpoint with direct invocation" lists the three; it does not quote their text, so the messages here
    say what to fix)."""
    if not variant.direct:
        raise RuntimeValidationError(
            f"Endpoint {routes.name} is not configured for direct invocation (its model is not a multi-container "
            f"model with InferenceExecutionConfig Mode Direct); omit TargetContainerHostname")
    if not hostname:
        raise RuntimeValidationError(
            f"Endpoint {routes.name} is configured for direct invocation; name the container to invoke with "
            f"TargetContainerHostname, one of {list(variant.containers)}")
    if hostname not in variant.containers:
        raise RuntimeValidationError(
            f"Container with hostname {hostname} was not found on endpoint {routes.name} (variant {variant.name}); "
            f"its containers are {list(variant.containers)}")
    return DirectInvocation(**invocation.__dict__, target_container=hostname)


def payload_too_large(size: int, limit: int) -> RequestTooLarge:
    """sagemaker-runtime's answer to a payload over the limit."""
    return RequestTooLarge(f"Request payload exceeds the limit of {limit} bytes; "
                           "send large payloads with InvokeEndpointAsync")


def routing_failed(request_id: str) -> ServiceUnavailable:
    """sagemaker-runtime's answer to an unexpected error."""
    return ServiceUnavailable(
        f"modelyard failed to route the invocation; see the server log for request {request_id}")


def not_implemented(service: str, operation: str) -> NotImplementedOperation:
    """sagemaker-runtime's answer to an operation modelyard does not serve yet."""
    return NotImplementedOperation(f"modelyard does not implement {operation} yet")
