"""rest-json (sagemaker-runtime) requests and responses, driven by botocore's service model.

Routes, header names and the payload member are read from the model once per operation; a request
then costs a regex match and a few dictionary lookups::

    POST /endpoints/my-ep/invocations  Content-Type: text/csv  X-Amzn-SageMaker-Target-Variant: v1
      -> RestRoute.decode(...) -> {"EndpointName": "my-ep", "ContentType": "text/csv",
                                   "TargetVariant": "v1", "Body": b"..."}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from botocore.model import OperationModel

from modelyard.wire import eventstream
from modelyard.wire.errors import ServiceError, UnknownOperationException
from modelyard.wire.protocol import REQUEST_ID_HEADER, HttpRequest, Response
from modelyard.wire.spec import service_model
from modelyard.wire.streams import StreamedBody
from modelyard.wire.validation import validate_input

VALIDATED_ENTRIES = 4096
"""Distinct parameter sets a route remembers as valid (then it starts over)."""


@dataclass(frozen=True)
class RestRoute:
    """One operation's HTTP binding."""

    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    uri_members: dict[str, str]
    header_members: dict[str, str]
    query_members: dict[str, str]
    payload: str | None
    response_headers: dict[str, bytes]
    response_payload: str | None
    validated: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = field(default_factory=dict, compare=False,
                                                                        repr=False)
    """Parameters that passed validation (the payload aside) -> their validated form: a repeated request
    (the same endpoint, content type, accept...) is not walked through the shape again."""

    def decode(self, match: re.Match[str], headers: Mapping[str, str], query: Mapping[str, str],
               body: bytes) -> dict[str, Any]:
        """Validated parameters (the payload member is the raw body, unvalidated)."""
        params: dict[str, Any] = {member: unquote(match.group(label)) for label, member in self.uri_members.items()}
        for header, member in self.header_members.items():
            value = headers.get(header)
            if value is not None:
                params[member] = _header_value(self.operation.input_shape.members[member].type_name, value)
        for key, member in self.query_members.items():
            if key in query:
                params[member] = query[key]
        seen = tuple(params.items())
        known = self.validated.get(seen)
        if known is not None:
            validated = dict(known)
        else:
            if self.payload is not None:
                params[self.payload] = ""
            validated = validate_input(self.operation.input_shape, params)
            if len(self.validated) >= VALIDATED_ENTRIES:
                self.validated.clear()
            self.validated[seen] = dict(validated)
        if self.payload is not None:
            validated[self.payload] = body
        return validated

    def encode(self, result: Mapping[str, Any]) -> Response:
        """Status, headers and body of a successful response."""
        headers: list[tuple[bytes, bytes]] = []
        for member, header in self.response_headers.items():
            value = result.get(member)
            if value is not None:
                headers.append((header, str(value).encode("latin-1", "replace")))
        if self.response_payload is not None:
            body = result.get(self.response_payload) or b""
            if not isinstance(body, (bytes, str)) and isinstance(body, StreamedBody):
                headers.append((b"content-type", eventstream.CONTENT_TYPE.encode()))
                return 200, headers, body
            if isinstance(body, str):
                body = body.encode()
            return 200, headers, body
        members = self.operation.output_shape.members if self.operation.output_shape else {}
        document = {k: v for k, v in result.items() if k in members and k not in self.response_headers
                    and v is not None}
        headers.append((b"content-type", b"application/json"))
        status = int(self.operation.http.get("responseCode", 200))
        return status, headers, json.dumps(document).encode()


def _header_value(type_name: str, text: str) -> Any:
    """A header's text as its member's type: integer members are parsed (a malformed one stays text, and
    validation names it)."""
    if type_name in ("integer", "long"):
        stripped = text.strip()
        if stripped.lstrip("-").isdigit() and len(stripped) <= 20:
            return int(stripped)
    return text


def _route(operation: OperationModel) -> RestRoute:
    uri = operation.http["requestUri"].split("?", 1)[0]
    labels = re.findall(r"\{([^}]+)\}", uri)
    regex = "^" + re.sub(r"\\\{([^}+]+)(\\\+)?\\\}",
                         lambda m: f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)",
                         re.escape(uri)) + "$"
    uri_members, header_members, query_members, payload = {}, {}, {}, None
    shape = operation.input_shape
    for name, member in (shape.members.items() if shape else []):
        location = member.serialization.get("location")
        location_name = member.serialization.get("name", name)
        if location == "uri":
            uri_members[location_name.rstrip("+")] = name
        elif location == "header":
            header_members[location_name.lower()] = name
        elif location == "querystring":
            query_members[location_name] = name
    if shape is not None:
        payload = shape.serialization.get("payload")
    assert all(label.rstrip("+") in uri_members for label in labels), uri
    response_headers: dict[str, bytes] = {}
    response_payload = None
    out = operation.output_shape
    for name, member in (out.members.items() if out else []):
        if member.serialization.get("location") == "header":
            response_headers[name] = member.serialization.get("name", name).lower().encode()
    if out is not None:
        response_payload = out.serialization.get("payload")
    return RestRoute(operation, operation.http["method"], re.compile(regex), uri_members, header_members,
                     query_members, payload, response_headers, response_payload)


class RestService:
    """The routes of one rest-json service."""

    def __init__(self, service: str) -> None:
        model = service_model(service)
        self.routes = [_route(model.operation_model(name)) for name in model.operation_names]

    def match(self, method: str, path: str) -> tuple[RestRoute, re.Match[str]] | None:
        """The route and URI match for a request, or None."""
        for route in self.routes:
            if route.method == method:
                found = route.pattern.match(path)
                if found is not None:
                    return route, found
        return None


def encode_error(error: ServiceError, request_id: str) -> Response:
    """Status, headers and JSON body of a rest-json error."""
    body = {"__type": error.code, "message": error.message, "Message": error.message, **error.fields}
    headers = [(b"content-type", b"application/json"), (REQUEST_ID_HEADER, request_id.encode()),
               (b"x-amzn-errortype", error.code.encode())]
    return error.status, headers, json.dumps(body, default=str).encode()


@dataclass(slots=True)
class RestCall:
    """One rest-json operation matched by method and path; its parameters come from URI, headers,
    query string and body."""

    route: RestRoute
    match: re.Match[str]
    validation_error: type[ServiceError]

    @property
    def name(self) -> str:
        """The operation's name."""
        return str(self.route.operation.name)

    def decode(self, request: HttpRequest, body: bytes) -> dict[str, Any]:
        """Validated parameters; a bad header or URI member is the service's validation error."""
        query = dict(parse_qsl(request.query_string.decode("latin-1"))) if request.query_string else {}
        try:
            return self.route.decode(self.match, request.headers, query, body)
        except ServiceError as exc:
            raise self.validation_error(exc.message) from None

    def encode(self, result: Mapping[str, Any] | None, request_id: str) -> Response:
        """The route's response, with the request id."""
        status, headers, body = self.route.encode(result or {})
        headers.append((REQUEST_ID_HEADER, request_id.encode()))
        return status, headers, body


class RestJsonProtocol:
    """A service spoken over rest-json, owning the paths under ``path_prefix``."""

    claims_only_root = False

    def __init__(self, service: str, path_prefix: str, validation_error: type[ServiceError]) -> None:
        self.service = service
        self.path_prefix = path_prefix
        self.validation_error = validation_error
        self.routes = RestService(service)

    def claims(self, request: HttpRequest) -> bool:
        """A request below this service's path prefix."""
        return request.path.startswith(self.path_prefix)

    def operation(self, request: HttpRequest) -> RestCall:
        """The operation bound to the request's method and path."""
        found = self.routes.match(request.method, request.path)
        if found is None:
            raise UnknownOperationException(f"No {self.service} operation for {request.method} {request.path}")
        route, match = found
        return RestCall(route, match, self.validation_error)

    def encode_error(self, error: ServiceError, request_id: str) -> Response:
        """A rest-json error response."""
        return encode_error(error, request_id)
