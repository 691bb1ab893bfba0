"""AWS JSON 1.0 and 1.1 (``X-Amz-Target``) requests and responses, for any service using them.

    POST /  X-Amz-Target: SageMaker.CreateModel   {"ModelName": ...}
        -> decode_request -> (service, OperationModel, validated params)
        -> encode_result  -> 200 application/x-amz-json-<the model's jsonVersion>
        -> encode_error   -> 4xx/5xx {"__type": code, "message": ...} + x-amzn-ErrorType

A service whose model is ``awsQueryCompatible`` (CloudWatch) answers errors as its query protocol
named them: ``__type`` is the error shape's name and ``x-amzn-query-error: <query code>;Sender``
carries the code botocore reports (``InvalidParameterValue``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel

from modelyard.wire import bounded_json
from modelyard.wire.encoding import encode_output
from modelyard.wire.errors import ServiceError, UnknownOperationException
from modelyard.wire.protocol import REQUEST_ID_HEADER, HttpRequest, Response
from modelyard.wire.request_compression import inflated
from modelyard.wire.spec import operation_model, service_model, target_prefixes
from modelyard.wire.validation import validate_input

CONTENT_TYPE = "application/x-amz-json-1.1"


@dataclass(frozen=True)
class JsonRequest:
    """A decoded and validated JSON-protocol request."""

    service: str
    operation: OperationModel
    params: dict[str, Any]


def resolve_target(target: str | None) -> tuple[str, OperationModel]:
    """Map an ``X-Amz-Target`` header to (service name, operation model)."""
    if not target:
        raise UnknownOperationException("Missing X-Amz-Target header (expected e.g. 'SageMaker.ListModels')")
    prefix, _, name = target.rpartition(".")
    service = target_prefixes().get(prefix)
    if service is None:
        raise UnknownOperationException(f"Unknown target prefix '{prefix}' in X-Amz-Target '{target}'")
    model = operation_model(service, name)
    if model is None:
        raise UnknownOperationException(f"Operation '{name}' is not an operation of {prefix}")
    return service, model


def decode_body(body: bytes) -> Any:
    """Parse a request body as JSON within ``wire.bounded_json``'s limits; an empty body is an empty object."""
    if not body.strip():
        return {}
    return bounded_json.loads(body)


def decode_request(target: str | None, body: bytes) -> JsonRequest:
    """Resolve the target, parse the body and validate it against the operation's input shape."""
    service, model = resolve_target(target)
    params = validate_input(model.input_shape, decode_body(body))
    return JsonRequest(service, model, params)


def encode_result(operation: OperationModel, result: Mapping[str, Any] | None) -> bytes:
    """Serialize an operation's result by its output shape."""
    return json.dumps(encode_output(operation.output_shape, result or {}), separators=(",", ":")).encode()


def encode_error(error: ServiceError, request_id: str, content_type: str = CONTENT_TYPE,
                 query_shapes: Mapping[str, str] | None = None) -> Response:
    """Status, headers and body of an AWS JSON error response (``query_shapes``: a query-compatible
    service's error shape names by query code and query codes by shape name)."""
    code = error.code
    headers = [(b"content-type", content_type.encode()), (REQUEST_ID_HEADER, request_id.encode())]
    if query_shapes is not None:
        fault = "Receiver" if error.status >= 500 else "Sender"
        query_code = query_shapes.get(f"#{code}", code)
        headers.append((b"x-amzn-query-error", f"{query_code};{fault}".encode()))
        code = query_shapes.get(query_code, code)
    headers.append((b"x-amzn-errortype", code.encode()))
    body = {"__type": code, "message": error.message, **error.fields}
    return error.status, headers, json.dumps(body, default=str).encode()


def query_error_shapes(service: str) -> dict[str, str] | None:
    """A query-compatible service's error shape names by query code, and (keys ``#<shape>``) query
    codes by shape name; None for other services."""
    model = service_model(service)
    if "awsQueryCompatible" not in model.metadata:
        return None
    names: dict[str, str] = {}
    for name in model.shape_names:
        shape = model.shape_for(name)
        if shape.metadata.get("exception") and shape.metadata.get("error"):
            query_code = shape.metadata["error"].get("code", name)
            names[query_code] = name
            names[f"#{name}"] = query_code
    return names


@dataclass(frozen=True)
class JsonCall:
    """One JSON 1.1 operation: the body is a JSON document validated against the input shape.

    It pickles as (service, operation name), so ``decode`` can run in a worker process."""

    model: OperationModel
    content_type: str = CONTENT_TYPE

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return _call_named, (self.model.service_model.service_name, self.model.name)

    @property
    def name(self) -> str:
        """The operation's name."""
        return str(self.model.name)

    def decode(self, request: HttpRequest, body: bytes) -> dict[str, Any]:
        """The body (inflated when the client compressed it), parsed and validated."""
        return validate_input(self.model.input_shape, decode_body(inflated(self.model, request, body)))

    def encode(self, result: Mapping[str, Any] | None, request_id: str) -> Response:
        """200 with the result serialized by the output shape."""
        headers = [(b"content-type", self.content_type.encode()), (REQUEST_ID_HEADER, request_id.encode())]
        return 200, headers, encode_result(self.model, result)


def content_type_of(service: str) -> str:
    """The service's JSON content type (``application/x-amz-json-1.0`` or ``-1.1``)."""
    return f"application/x-amz-json-{service_model(service).metadata.get('jsonVersion', '1.1')}"


def _call_named(service: str, name: str) -> JsonCall:
    model = operation_model(service, name)
    if model is None:
        raise UnknownOperationException(f"Operation '{name}' is not an operation of {service}")
    return JsonCall(model, content_type_of(service))


class JsonProtocol:
    """A service spoken over AWS JSON 1.0 or 1.1: ``POST /`` with ``X-Amz-Target: <targetPrefix>.<Operation>``."""

    claims_only_root = True

    def __init__(self, service: str) -> None:
        self.service = service
        self.target_prefix: str = service_model(service).metadata["targetPrefix"]
        self.content_type = content_type_of(service)
        self.query_shapes = query_error_shapes(service)
        self._calls: dict[str, JsonCall] = {}

    def claims(self, request: HttpRequest) -> bool:
        """A ``POST /`` whose target names this service's prefix."""
        if request.path != "/" or request.method != "POST":
            return False
        return request.headers.get("x-amz-target", "").rpartition(".")[0] == self.target_prefix

    def operation(self, request: HttpRequest) -> JsonCall:
        """The operation named by the target."""
        name = request.headers.get("x-amz-target", "").rpartition(".")[2]
        call = self._calls.get(name)
        if call is None:
            model = operation_model(self.service, name)
            if model is None:
                raise UnknownOperationException(f"Operation '{name}' is not an operation of {self.target_prefix}")
            call = self._calls.setdefault(name, JsonCall(model, self.content_type))
        return call

    def encode_error(self, error: ServiceError, request_id: str) -> Response:
        """An AWS JSON error response."""
        return encode_error(error, request_id, self.content_type, self.query_shapes)
