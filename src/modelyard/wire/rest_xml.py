"""rest-xml (S3) requests and responses, driven by botocore's service model.

Every operation's binding is read from the model once: its method, whether its URI names a bucket, a
bucket and a key, or neither, the query markers its URI carries (``?uploads``, ``?list-type=2``) and
the members it requires from the query string and headers. A request is matched to the most specific
binding whose markers it carries, so ``PUT /b/k?partNumber=1&uploadId=u`` is UploadPart and
``PUT /b/k`` is PutObject::

    PUT /b/k  x-amz-meta-color: red  Content-Type: text/plain
      -> XmlCall.decode -> {"Bucket": "b", "Key": "k", "Metadata": {"color": "red"},
                            "ContentType": "text/plain", "Body": b"..."}

Addressing: the bucket comes from the path (``/bucket/key``) or, virtual-host style, from the host
(``bucket.localhost:8080/key``, ``bucket.s3.localhost``, ``bucket.<MODELYARD_S3_DOMAIN>``).
Responses carry header members, then the payload member (raw bytes, a streamed ``FileBody``, or a
structure as XML) or the remaining members as an XML document. Errors are S3's
``<Error><Code/><Message/><RequestId/></Error>``; a HEAD error has no body.
"""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_to_bytes
from xml.etree import ElementTree

from botocore.model import OperationModel, Shape, StructureShape

from modelyard.wire.errors import ServiceError, UnknownOperationException
from modelyard.wire.query_strings import first_values
from modelyard.wire.spec import service_model
from modelyard.wire.streams import FileBody
from modelyard.wire.validation import validate_input
from modelyard.wire.xml_text import xml_message, xml_text

Response = tuple[int, list[tuple[bytes, bytes]], bytes | FileBody]
S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
STATUS = "__status__"
"""A handler's result may set the HTTP status under this key (206 for a range)."""
REQUEST_ID_HEADER = b"x-amz-request-id"
SERVICE_SCOPE = "/s3/aws4_request"
DEFAULT_VIRTUAL_DOMAINS = ("s3.localhost", "localhost")
# S3's root element names; botocore reads any root, these are what S3 sends.
_ROOT_NAMES = {"ListObjects": "ListBucketResult", "ListObjectsV2": "ListBucketResult",
               "ListBuckets": "ListAllMyBucketsResult", "CreateMultipartUpload": "InitiateMultipartUploadResult",
               "DeleteObjects": "DeleteResult"}
_TEXT_ROOT = {"GetBucketLocation": "LocationConstraint"}
_IP = re.compile(r"^(\d+\.\d+\.\d+\.\d+|\[.*\])$")


class MalformedXML(ServiceError):
    """A request document that is not XML or does not follow the operation's shape."""

    code = "MalformedXML"


class InvalidArgument(ServiceError):
    """A header, query parameter or member S3 would refuse."""

    code = "InvalidArgument"


@dataclass(frozen=True)
class Target:
    """Which bucket and key a request addresses ("" when absent)."""

    bucket: str
    key: str


def decoded_path(request: Any) -> str:
    """The request path percent-decoded as UTF-8 (S3 keys are UTF-8; other bytes are refused)."""
    raw = request.raw_path
    if not raw or b"%" not in raw:
        return str(request.path)
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument("The request path is not valid UTF-8 once percent-decoded (object keys are UTF-8)")\
            from None


def target(request_path: str, host: str, domains: tuple[str, ...]) -> Target:
    """Bucket and key from a virtual host (``bucket.localhost``) or from the path (``/bucket/key``)."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if name and not _IP.match(name):
        for domain in domains:
            if name.endswith("." + domain) and len(name) > len(domain) + 1:
                return Target(name[: -len(domain) - 1], request_path[1:])
    bucket, _, key = request_path[1:].partition("/")
    return Target(bucket, key)


@dataclass(frozen=True)
class XmlRoute:
    """One operation's HTTP binding."""

    operation: OperationModel
    method: str
    kind: str
    query_literals: tuple[tuple[str, str | None], ...]
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]
    headers: tuple[tuple[str, str, Shape], ...]
    prefixed_headers: tuple[tuple[str, str, Shape], ...]
    query: tuple[tuple[str, str, Shape], ...]
    payload: str | None
    streamed: bool

    @property
    def specificity(self) -> int:
        """How many markers a request must carry to match."""
        return len(self.query_literals) + len(self.required_query) + len(self.required_headers)

    def matches(self, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        """Whether the request carries every marker of this binding."""
        for name, value in self.query_literals:
            if name not in query or (value is not None and query[name] != value):
                return False
        return all(name in query for name in self.required_query) and all(
            name in headers for name in self.required_headers)


def _route(operation: OperationModel) -> XmlRoute:
    uri, _, literal_text = operation.http["requestUri"].partition("?")
    kind = "object" if "{Key+}" in uri else "bucket" if "{Bucket}" in uri else "root:" + uri
    literals = []
    for item in literal_text.split("&") if literal_text else []:
        name, eq, value = item.partition("=")
        literals.append((name, value if eq else None))
    shape = operation.input_shape
    required = set(shape.required_members) if shape is not None else set()
    headers, prefixed, query, required_query, required_headers = [], [], [], [], []
    for name, member in (shape.members.items() if shape is not None else []):
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "header":
            headers.append((wire_name.lower(), name, member))
            if name in required:
                required_headers.append(wire_name.lower())
        elif location == "headers":
            prefixed.append((wire_name.lower(), name, member))
        elif location == "querystring":
            query.append((wire_name, name, member))
            if name in required:
                required_query.append(wire_name)
    payload = shape.serialization.get("payload") if shape is not None else None
    streamed = bool(payload and shape is not None and shape.members[payload].serialization.get("streaming"))
    return XmlRoute(operation, operation.http["method"], kind, tuple(literals), tuple(required_query),
                    tuple(required_headers), tuple(headers), tuple(prefixed), tuple(query), payload, streamed)


def _kind(found: Target, path: str) -> str:
    if not found.bucket:
        return "root:" + path
    return "object" if found.key else "bucket"


def parse_query(query_string: bytes) -> dict[str, str]:
    """The query string as a dictionary (the first value of each name; bare names map to "")."""
    return first_values(query_string.decode("latin-1")) if query_string else {}


# --- decoding --------------------------------------------------------------------------------------

def _scalar(shape: Shape, text: str, where: str) -> Any:
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        raise InvalidArgument(f"{where} must be a number, not '{text[:100]}'") from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise InvalidArgument(f"{where} must be true or false, not '{text[:100]}'")
        return text.lower() == "true"
    if kind == "timestamp":
        return _parse_time(text, where)
    return text


def _parse_time(text: str, where: str) -> float:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        raise InvalidArgument(f"{where} must be a date, not '{text[:100]}'") from None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _from_xml(shape: Shape, element: ElementTree.Element, depth: int = 0) -> Any:
    if depth > 16:
        raise MalformedXML("The XML you provided is nested too deeply")
    kind = shape.type_name
    if kind == "structure":
        result: dict[str, Any] = {}
        children: dict[str, list[ElementTree.Element]] = {}
        for child in element:
            children.setdefault(_local(child.tag), []).append(child)
        for name, member in shape.members.items():
            wire_name = member.serialization.get("name", name)
            found = children.get(wire_name)
            if not found:
                continue
            if member.type_name == "list" and member.serialization.get("flattened"):
                result[name] = [_from_xml(member.member, item, depth + 1) for item in found]
            else:
                result[name] = _from_xml(member, found[0], depth + 1)
        return result
    if kind == "list":
        item_name = shape.member.serialization.get("name", "member")
        return [_from_xml(shape.member, item, depth + 1) for item in element if _local(item.tag) == item_name]
    if kind == "map":
        raise MalformedXML("maps in request documents are not supported")
    return _scalar(shape, element.text or "", _local(element.tag))


def decode_document(shape: Shape, body: bytes) -> Any:
    """A request document parsed by its shape; MalformedXML when it is not well-formed."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise MalformedXML("The XML you provided was not well-formed: document types and entities are refused")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise MalformedXML(f"The XML you provided was not well-formed or did not validate against our "
                           f"published schema ({exc})") from None
    return _from_xml(shape, root)


# --- encoding --------------------------------------------------------------------------------------

def iso_time(value: float | dt.datetime) -> str:
    """S3's XML timestamp: ``2026-11-30T18:00:00.000Z``."""
    stamp = value.timestamp() if isinstance(value, dt.datetime) else float(value)
    moment = dt.datetime.fromtimestamp(stamp, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def http_time(value: float | dt.datetime) -> str:
    """An HTTP date: ``Mon, 30 Nov 2026 18:00:00 GMT``."""
    stamp = value.timestamp() if isinstance(value, dt.datetime) else float(value)
    return email.utils.formatdate(stamp, usegmt=True)


def _text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return iso_time(value)
    if kind == "blob":
        return base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode()
    return str(value)


def _to_xml(shape: Shape, name: str, value: Any, out: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        out.append(f"<{name}>")
        for member_name, member in shape.members.items():
            item = value.get(member_name)
            if item is None or member.serialization.get("location"):
                continue
            wire_name = member.serialization.get("name", member_name)
            if member.type_name == "list" and member.serialization.get("flattened"):
                for element in item:
                    _to_xml(member.member, wire_name, element, out)
            else:
                _to_xml(member, wire_name, item, out)
        out.append(f"</{name}>")
    elif kind == "list":
        item_name = shape.member.serialization.get("name", "member")
        out.append(f"<{name}>")
        for element in value:
            _to_xml(shape.member, item_name, element, out)
        out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{xml_text(_text(shape, value))}</{name}>")


def document(root: str, shape: Shape, value: Mapping[str, Any]) -> bytes:
    """An XML document with ``root`` holding ``value``'s members as ``shape`` names them."""
    out: list[str] = []
    _to_xml(shape, root, value, out)
    out[0] = f'<{root} xmlns="{S3_NAMESPACE}">'
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + "".join(out)).encode()


def _header_text(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        if shape.serialization.get("timestampFormat") == "iso8601":
            return iso_time(value)
        return http_time(value)
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return str(value)


def encode_error(error: ServiceError, request_id: str, codes: Mapping[str, str] | None = None) -> Response:
    """S3's error document, with ``codes`` renaming the shared layers' codes (uvicorn sends no body
    for a HEAD request)."""
    headers = [(REQUEST_ID_HEADER, request_id.encode()), (b"x-amz-id-2", request_id.encode())]
    code = codes.get(error.code, error.code) if codes else error.code
    parts = [f"<Code>{xml_message(code)}</Code>", f"<Message>{xml_message(error.message)}</Message>"]
    parts += [f"<{name}>{xml_message(str(value))}</{name}>"
              for name, value in error.fields.items() if value is not None]
    parts.append(f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId>")
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>").encode()
    return error.status, [*headers, (b"content-type", b"application/xml")], body


@dataclass(slots=True)
class XmlCall:
    """One rest-xml operation matched to a request."""

    route: XmlRoute
    target: Target
    validation_error: type[ServiceError]

    @property
    def name(self) -> str:
        """The operation's name."""
        return str(self.route.operation.name)

    @property
    def streamed(self) -> bool:
        """Whether the operation's request payload is a stream (PutObject, UploadPart)."""
        return self.route.streamed

    def decode(self, request: Any, body: bytes) -> dict[str, Any]:
        """Validated parameters from URI, headers, query string and body (a streamed payload is left
        for the handler)."""
        route = self.route
        params: dict[str, Any] = {}
        if self.target.bucket:
            params["Bucket"] = self.target.bucket
        if self.target.key:
            params["Key"] = self.target.key
        headers: Mapping[str, str] = request.headers
        for header, member, shape in route.headers:
            value = headers.get(header)
            if value is not None:
                params[member] = _scalar(shape, value, header)
        for prefix, member, _ in route.prefixed_headers:
            found = {name[len(prefix):]: value for name, value in headers.items() if name.startswith(prefix)}
            if found:
                params[member] = found
        if route.query:
            query = parse_query(request.query_string)
            for name, member, shape in route.query:
                if name in query:
                    params[member] = _scalar(shape, query[name], name)
        shape = route.operation.input_shape
        payload = route.payload
        if payload is not None and not route.streamed and body:
            member = shape.members[payload]
            if member.type_name == "structure":
                params[payload] = decode_document(member, body)
        try:
            validated = validate_input(shape, params)
        except ServiceError as exc:
            raise self.validation_error(exc.message) from None
        if payload is not None and not route.streamed and shape.members[payload].type_name == "blob":
            validated[payload] = body
        return validated

    def encode(self, result: Mapping[str, Any] | None, request_id: str) -> Response:
        """The response: header members, then the payload or an XML document of the other members."""
        result = result or {}
        operation = self.route.operation
        status = int(result.get(STATUS) or operation.http.get("responseCode", 200))
        headers = [(REQUEST_ID_HEADER, request_id.encode()), (b"x-amz-id-2", request_id.encode())]
        out = operation.output_shape
        if out is None:
            return status, [*headers, (b"content-length", b"0")], b""
        body: bytes | FileBody = b""
        payload = out.serialization.get("payload")
        for name, member in out.members.items():
            value = result.get(name)
            if value is None:
                continue
            location = member.serialization.get("location")
            if location == "header":
                headers.append((member.serialization.get("name", name).lower().encode(),
                                _header_text(member, value).encode("latin-1", "replace")))
            elif location == "headers":
                prefix = member.serialization.get("name", name).lower()
                headers += [((prefix + key).encode("latin-1", "replace"), str(item).encode("latin-1", "replace"))
                            for key, item in value.items()]
        if payload is not None:
            member = out.members[payload]
            value = result.get(payload)
            if member.type_name == "structure":
                body = document(member.serialization.get("name", payload), member, value or {})
                headers.append((b"content-type", b"application/xml"))
            elif value is not None:
                body = value
        elif self.name in _TEXT_ROOT:
            value = result.get(_TEXT_ROOT[self.name])
            text = xml_text(str(value)) if value else ""
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="{S3_NAMESPACE}">'
                    f"{text}</LocationConstraint>").encode()
            headers.append((b"content-type", b"application/xml"))
        elif any(not member.serialization.get("location") for member in out.members.values()):
            assert isinstance(out, StructureShape)
            body = document(_ROOT_NAMES.get(self.name, f"{self.name}Result"), out, result)
            headers.append((b"content-type", b"application/xml"))
        if isinstance(body, bytes) and not any(name == b"content-length" for name, _ in headers):
            headers.append((b"content-length", str(len(body)).encode()))
        return status, headers, body


class RestXmlProtocol:
    """A service spoken over rest-xml (S3). It claims requests signed for the service (the credential
    scope ``/s3/aws4_request`` in the Authorization header or the presigned query, or S3's old
    signature version 2, which authentication then refuses by name) or addressed to a virtual-host
    bucket (``<bucket>.<domain>``)."""

    claims_only_root = False

    def __init__(self, service: str, validation_error: type[ServiceError],
                 domains: tuple[str, ...] = DEFAULT_VIRTUAL_DOMAINS, codes: Mapping[str, str] | None = None) -> None:
        self.service = service
        self.codes = dict(codes or {})
        self.scope = f"/{service}/aws4_request"
        self.validation_error = validation_error
        self.domains = domains
        self.domain_suffixes = tuple("." + domain for domain in domains)
        model = service_model(service)
        routes = [_route(model.operation_model(name)) for name in sorted(model.operation_names)]
        self.routes: dict[tuple[str, str], list[XmlRoute]] = {}
        for route in sorted(routes, key=lambda r: (-r.specificity, r.operation.name)):
            self.routes.setdefault((route.method, route.kind), []).append(route)

    def claims(self, request: Any) -> bool:
        """Signed for this service, or addressed to a virtual-host bucket."""
        headers = request.headers
        authorization = headers.get("authorization", "")
        if self.scope in authorization or authorization.startswith("AWS "):
            return True
        query = request.query_string
        if query and (self.scope.replace("/", "%2F").encode() in query or b"AWSAccessKeyId=" in query):
            return True
        host = headers.get("host", "").rsplit(":", 1)[0]
        return bool(host.endswith(self.domain_suffixes))

    def operation(self, request: Any) -> XmlCall:
        """The most specific operation whose binding the request matches."""
        found = target(decoded_path(request), request.headers.get("host", ""), self.domains)
        candidates = self.routes.get((request.method, _kind(found, request.path)), [])
        query = parse_query(request.query_string) if request.query_string else {}
        for route in candidates:
            if route.matches(query, request.headers):
                return XmlCall(route, found, self.validation_error)
        raise UnknownOperationException(f"No {self.service} operation for {request.method} {request.path}")

    def encode_error(self, error: ServiceError, request_id: str) -> Response:
        """S3's XML error document."""
        return encode_error(error, request_id, self.codes)


def epoch(value: str) -> float:
    """An HTTP or ISO date as epoch seconds (for conditional headers)."""
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        raise ValueError(value)
    return float(calendar.timegm(parsed[:9]) - (parsed[9] or 0))


__all__ = ["STATUS", "RestXmlProtocol", "XmlCall", "decode_document", "encode_error", "unquote"]
