"""AWS JSON 1.1 (``X-Amz-Target``) requests and responses, for any service using it.

    POST /  X-Amz-Target: SageMaker.CreateModel   {"ModelName": ...}
        -> decode_request -> (service, OperationModel, validated params)
        -> encode_result  -> 200 application/x-amz-json-1.1
        -> encode_error   -> 4xx/5xx {"__type": code, "message": ...} + x-amzn-ErrorType
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel

from modelyard.wire.encoding import encode_output
from modelyard.wire.errors import (
    SerializationException,
    ServiceError,
    UnknownOperationException,
)
from modelyard.wire.spec import operation_model, target_prefixes
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
    """Parse a request body as JSON; an empty body is an empty object."""
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SerializationException(f"Request body is not valid JSON: {exc}") from None


def decode_request(target: str | None, body: bytes) -> JsonRequest:
    """Resolve the target, parse the body and validate it against the operation's input shape."""
    service, model = resolve_target(target)
    params = validate_input(model.input_shape, decode_body(body))
    return JsonRequest(service, model, params)


def encode_result(operation: OperationModel, result: dict[str, Any] | None) -> bytes:
    """Serialize an operation's result by its output shape."""
    return json.dumps(encode_output(operation.output_shape, result or {}), separators=(",", ":")).encode()


def encode_error(error: ServiceError, request_id: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of an AWS JSON error response."""
    body = {"__type": error.code, "message": error.message, **error.fields}
    headers = [
        (b"content-type", CONTENT_TYPE.encode()),
        (b"x-amzn-requestid", request_id.encode()),
        (b"x-amzn-errortype", error.code.encode()),
    ]
    return error.status, headers, json.dumps(body, default=str).encode()
