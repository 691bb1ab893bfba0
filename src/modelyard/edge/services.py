"""The table of services the edge serves: which wire protocol, body limit and handlers each has."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelyard.context import RequestContext
from modelyard.edge.admission import AdmissionGate
from modelyard.wire.auth import AuthRules, Principal
from modelyard.wire.errors import (
    InternalFailure,
    NotImplementedOperation,
    RequestTooLarge,
    ServiceError,
    UnknownOperationException,
)
from modelyard.wire.protocol import HttpRequest, WireProtocol
from modelyard.wire.streams import BodyTransform

OperationHandler = Callable[[RequestContext, dict[str, Any]], Awaitable[Mapping[str, Any] | None]]
"""An operation's handler as the pipeline awaits it: validated parameters in, result out."""


def too_large(size: int, limit: int) -> ServiceError:
    """The default answer to a body over the limit."""
    return RequestTooLarge(f"Request body of more than {size} bytes exceeds the limit of {limit} bytes")


def internal_failure(request_id: str) -> ServiceError:
    """The default answer to an unexpected error."""
    return InternalFailure(f"modelyard hit an internal error; see the server log for request {request_id}")


def not_implemented(service: str, operation: str) -> ServiceError:
    """The default answer to an operation of the service model that has no handler."""
    return NotImplementedOperation(
        f"modelyard does not implement {service} operation {operation} yet "
        "(see docs/IMPLEMENTATION_COVERAGE.md for what is implemented)")


@dataclass(frozen=True)
class Service:
    """One AWS service as the edge serves it."""

    name: str
    protocol: WireProtocol
    body_limit: int
    operations: Mapping[str, OperationHandler]
    too_large: Callable[[int, int], ServiceError] = too_large
    internal_error: Callable[[str], ServiceError] = internal_failure
    not_implemented: Callable[[str, str], ServiceError] = not_implemented
    gate: AdmissionGate | None = None
    """Bounds concurrency and decodes large bodies off the loop (the control plane); None: on the loop."""
    auth: AuthRules | None = None
    streamed: frozenset[str] = frozenset()
    """Operations whose body is not read before dispatch: the handler gets a ``wire.streams.RequestStream``
    of at most ``stream_limit`` bytes (S3's PutObject and UploadPart); every other body is read whole."""
    stream_limit: int = 0
    body_transform: Callable[[HttpRequest, Principal], BodyTransform | None] | None = None
    """Makes the decoder a streamed body passes through, from the request and its verified principal
    (the ``aws-chunked`` decoder, which needs the seed signature); None: bodies arrive as sent."""

    @functools.cached_property
    def auth_rules(self) -> AuthRules:
        """How its requests are signed: by default under the service's name, errors with HTTP 400 (built once)."""
        return self.auth or AuthRules(self.name)

    @functools.cached_property
    def streamed_auth_rules(self) -> AuthRules:
        """The rules for a streamed operation: the payload hash is checked by the body's reader."""
        return dataclasses.replace(self.auth_rules, deferred_payload=True)


class ServiceTable:
    """The services, asked in order which one a request is for."""

    def __init__(self, services: Sequence[Service]) -> None:
        self.services = tuple(services)
        self._beyond_root = tuple(service for service in self.services if not service.protocol.claims_only_root)

    def find(self, request: HttpRequest) -> Service | None:
        """The first service whose protocol claims the request (those that claim only ``/`` are not asked
        about other paths)."""
        for service in self.services if request.path == "/" else self._beyond_root:
            if service.protocol.claims(request):
                return service
        return None


def unrouted(request: HttpRequest) -> ServiceError:
    """What a request no service claims is told, naming what it got wrong."""
    if request.method == "POST" and request.path == "/":
        target = request.headers.get("x-amz-target")
        if not target and "x-www-form-urlencoded" in request.headers.get("content-type", ""):
            return UnknownOperationException(
                "This looks like an AWS query-protocol request (Action=... form body), which modelyard does not "
                "serve; CloudWatch is served as AWS JSON 1.0, which current botocore (1.44) sends: upgrade "
                "boto3/botocore or the awscli")
        if not target:
            return UnknownOperationException("Missing X-Amz-Target header (expected e.g. 'SageMaker.ListModels')")
        prefix = target.rpartition(".")[0]
        return UnknownOperationException(f"Unknown target prefix '{prefix}' in X-Amz-Target '{target}'")
    return UnknownOperationException(
        f"No route for {request.method} {request.path}: control-plane calls are POST / with "
        "X-Amz-Target; invocations are POST /endpoints/<name>/invocations")
