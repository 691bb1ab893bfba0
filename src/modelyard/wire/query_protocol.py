"""The AWS query protocol (STS, IAM): form-encoded ``Action=...&Version=...`` requests, XML responses.

::

    POST /  Authorization: ... Credential=<key>/<date>/<region>/sts/aws4_request
            Content-Type: application/x-www-form-urlencoded
            Action=GetRole&Version=2010-05-08&RoleName=modelyard&Tags.member.1.Key=k
        -> claims (the credential scope names the service) -> the Action, read from the body
        -> members decoded by the input shape (A.B nesting, L.member.N lists, M.entry.N.key|value maps),
           then validated as every protocol's input is
        -> 200 text/xml <GetRoleResponse xmlns=...><GetRoleResult>...</GetRoleResult>
                        <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata></GetRoleResponse>
        -> errors: <ErrorResponse><Error><Type>Sender</Type><Code>...</Code><Message>...</Message></Error>
                   <RequestId>...</RequestId></ErrorResponse>

The Action may also come in the query string (GET, or a POST with an empty body).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel, Shape

from modelyard.wire.errors import SerializationException, ServiceError, UnknownOperationException
from modelyard.wire.protocol import REQUEST_ID_HEADER, HttpRequest, NamedInBody, OperationCall, Response
from modelyard.wire.query_strings import first_values
from modelyard.wire.spec import operation_model, service_model
from modelyard.wire.validation import validate_input
from modelyard.wire.xml_text import xml_message, xml_text

CONTENT_TYPE = b"text/xml"
MAX_DEPTH = 12
MAX_LIST_ITEMS = 1000
ERROR_CODES = {"ValidationException": "ValidationError", "SerializationException": "MalformedInput",
               "UnknownOperationException": "InvalidAction"}
"""The shared layers' error codes as the query services name them."""


def form(body: bytes | str) -> dict[str, str]:
    """A form-encoded body (or query string) as a dictionary; the first value of a repeated name wins."""
    return first_values(body.decode("utf-8", "replace") if isinstance(body, bytes) else body)


def _scalar(shape: Shape, text: str, where: str) -> Any:
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "timestamp":
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise SerializationException(f"{where}: '{text[:100]}' is not a valid {kind}") from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise SerializationException(f"{where}: '{text[:100]}' is not true or false")
        return text.lower() == "true"
    return text


def _present(values: Mapping[str, str], prefix: str) -> bool:
    return prefix in values or any(name.startswith(prefix + ".") for name in values)


def _wire_name(shape: Shape, default: str) -> str:
    name = shape.serialization.get("name")
    return str(name) if name else default


def _decode(shape: Shape, values: Mapping[str, str], prefix: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise SerializationException(f"{prefix}: nested too deeply")
    kind = shape.type_name
    if kind == "structure":
        result: dict[str, Any] = {}
        for name, member in shape.members.items():
            key = f"{prefix}.{_wire_name(member, name)}" if prefix else _wire_name(member, name)
            if _present(values, key):
                result[name] = _decode(member, values, key, depth + 1)
        return result
    if kind == "list":
        if values.get(prefix) == "":
            return []
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.{_wire_name(shape.member, 'member')}"
        items = []
        for index in range(1, MAX_LIST_ITEMS + 1):
            key = f"{base}.{index}"
            if not _present(values, key):
                break
            items.append(_decode(shape.member, values, key, depth + 1))
        return items
    if kind == "map":
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_name, value_name = _wire_name(shape.key, "key"), _wire_name(shape.value, "value")
        mapping = {}
        for index in range(1, MAX_LIST_ITEMS + 1):
            entry = f"{base}.{index}"
            if not _present(values, entry):
                break
            mapping[values.get(f"{entry}.{key_name}", "")] = _decode(shape.value, values, f"{entry}.{value_name}",
                                                                      depth + 1)
        return mapping
    return _scalar(shape, values.get(prefix, ""), prefix)


def decode_params(operation: OperationModel, values: Mapping[str, str]) -> dict[str, Any]:
    """The operation's validated parameters from the form's flattened names."""
    shape = operation.input_shape
    raw = _decode(shape, values, "", 0) if shape is not None else {}
    return validate_input(shape, raw)


def _text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        stamp = value.timestamp() if isinstance(value, dt.datetime) else float(value)
        moment = dt.datetime.fromtimestamp(stamp, dt.timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "blob":
        return base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode()
    return str(value)


def _to_xml(shape: Shape, name: str, value: Any, out: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        out.append(f"<{name}>")
        for member_name, member in shape.members.items():
            item = value.get(member_name)
            if item is not None:
                _member(member, _wire_name(member, member_name), item, out)
        out.append(f"</{name}>")
    elif kind == "list":
        out.append(f"<{name}>")
        for element in value:
            _to_xml(shape.member, _wire_name(shape.member, "member"), element, out)
        out.append(f"</{name}>")
    elif kind == "map":
        out.append(f"<{name}>")
        for key, item in value.items():
            out.append("<entry>")
            _to_xml(shape.key, _wire_name(shape.key, "key"), key, out)
            _to_xml(shape.value, _wire_name(shape.value, "value"), item, out)
            out.append("</entry>")
        out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{xml_text(_text(shape, value))}</{name}>")


def _member(member: Shape, name: str, value: Any, out: list[str]) -> None:
    if member.type_name == "list" and member.serialization.get("flattened"):
        for element in value:
            _to_xml(member.member, name, element, out)
    else:
        _to_xml(member, name, value, out)


def encode_result(operation: OperationModel, namespace: str, result: Mapping[str, Any] | None,
                  request_id: str) -> bytes:
    """``<OpResponse><OpResult>...</OpResult><ResponseMetadata>...</ResponseMetadata></OpResponse>``."""
    out = [f'<{operation.name}Response xmlns="{namespace}">']
    shape = operation.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper") or f"{operation.name}Result"
        _to_xml(shape, wrapper, result or {}, out)
    out.append(f"<ResponseMetadata><RequestId>{xml_message(request_id)}</RequestId></ResponseMetadata>")
    out.append(f"</{operation.name}Response>")
    return "".join(out).encode()


def encode_error(error: ServiceError, namespace: str, request_id: str) -> Response:
    """The query protocol's ``ErrorResponse`` document."""
    code = ERROR_CODES.get(error.code, error.code)
    side = "Receiver" if error.status >= 500 else "Sender"
    body = (f'<ErrorResponse xmlns="{namespace}"><Error><Type>{side}</Type><Code>{xml_message(code)}</Code>'
            f"<Message>{xml_message(error.message)}</Message></Error><RequestId>{xml_message(request_id)}</RequestId>"
            "</ErrorResponse>").encode()
    return error.status, [(b"content-type", CONTENT_TYPE), (REQUEST_ID_HEADER, request_id.encode())], body


@dataclass(frozen=True)
class QueryCall:
    """One operation of a query-protocol service."""

    model: OperationModel
    namespace: str

    @property
    def name(self) -> str:
        """The operation's name."""
        return str(self.model.name)

    def decode(self, request: HttpRequest, body: bytes) -> dict[str, Any]:
        """The form's members (the query string's, for a GET or an empty body), decoded and validated."""
        values = form(body) if body.strip() else form(request.query_string)
        return decode_params(self.model, values)

    def encode(self, result: Mapping[str, Any] | None, request_id: str) -> Response:
        """200 with the XML response document."""
        headers = [(b"content-type", CONTENT_TYPE), (REQUEST_ID_HEADER, request_id.encode())]
        return 200, headers, encode_result(self.model, self.namespace, result, request_id)


class PendingQueryCall(NamedInBody):
    """A query request whose Action is in its body, not read yet."""

    name = ""

    def __init__(self, protocol: QueryProtocol) -> None:
        self.protocol = protocol

    def named(self, body: bytes) -> OperationCall:
        """The call the body's ``Action`` names."""
        return self.protocol.call(form(body).get("Action", ""))

    def decode(self, request: HttpRequest, body: bytes) -> dict[str, Any]:
        """Never called: the pipeline asks ``named`` first."""
        raise UnknownOperationException("the Action is read from the body first")

    def encode(self, result: Mapping[str, Any] | None, request_id: str) -> Response:
        """Never called (see ``decode``)."""
        raise UnknownOperationException("the Action is read from the body first")


class QueryProtocol:
    """A service spoken over the query protocol, told apart from others by its signing name."""

    claims_only_root = True

    def __init__(self, service: str) -> None:
        self.service = service
        model = service_model(service)
        self.namespace: str = model.metadata.get("xmlNamespace", "")
        self.version: str = model.metadata["apiVersion"]
        signing = model.metadata.get("signingName") or model.metadata.get("endpointPrefix") or service
        self.scope = f"/{signing}/aws4_request"
        self._encoded_scope = self.scope.replace("/", "%2F").encode()
        self._calls: dict[str, QueryCall] = {}

    def claims(self, request: HttpRequest) -> bool:
        """``/`` signed for this service (in the Authorization header, or a presigned query string)."""
        if request.path != "/" or request.method not in ("POST", "GET"):
            return False
        return self.scope in request.headers.get("authorization", "") or self._encoded_scope in request.query_string

    def operation(self, request: HttpRequest) -> OperationCall:
        """The call the query string's Action names, or one named once the body is read."""
        action = form(request.query_string).get("Action") if request.query_string else None
        if action is not None:
            return self.call(action)
        return PendingQueryCall(self)

    def call(self, action: str) -> QueryCall:
        """The call of operation ``action``; InvalidAction when the service has none."""
        call = self._calls.get(action)
        if call is None:
            model = operation_model(self.service, action) if action else None
            if model is None:
                raise UnknownOperationException(
                    f"Could not find operation {action or '(no Action given)'} for version {self.version}")
            call = self._calls.setdefault(action, QueryCall(model, self.namespace))
        return call

    def encode_error(self, error: ServiceError, request_id: str) -> Response:
        """An ``ErrorResponse`` document."""
        return encode_error(error, self.namespace, request_id)
