"""What every AWS wire protocol provides to the request pipeline (``modelyard.edge``).

A protocol is bound to one service. It says whether a request is for that service (``claims``),
which operation it calls (``operation``), and writes errors; the ``OperationCall`` it returns
decodes the body into validated parameters and encodes the result::

    claims(request) -> operation(request) -> call.decode(request, body) -> handler -> call.encode(result)
                                            (any ServiceError)          -> encode_error(error)

JSON 1.1 (``wire.json_protocol``), rest-json (``wire.rest_json``), rest-xml (``wire.rest_xml``) and
query (``wire.query_protocol``) implement it. A query request names its operation in the body: its
call is a ``NamedInBody``, which the pipeline asks for the real call once the body is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from modelyard.wire.errors import ServiceError
from modelyard.wire.streams import StreamedBody

Headers = list[tuple[bytes, bytes]]
Response = tuple[int, Headers, bytes | StreamedBody]
"""Status, headers and body of an HTTP response: the whole body, or one streamed out (a file for S3
GetObject, an event stream for InvokeEndpointWithResponseStream)."""

REQUEST_ID_HEADER = b"x-amzn-requestid"


@dataclass(slots=True)
class HttpRequest:
    """The parts of an HTTP request the protocols read; header names are lower-case."""

    method: str
    path: str
    query_string: bytes
    headers: dict[str, str]
    raw_path: bytes = b""
    """The path as sent (percent-encoded), when the server has it."""


class OperationCall(Protocol):
    """One operation named by a request, before its body is read."""

    @property
    def name(self) -> str:
        """The operation's name (``CreateModel``, ``InvokeEndpoint``)."""

    def decode(self, request: HttpRequest, body: bytes) -> dict[str, Any]:
        """The validated request parameters (wire member names); raises a ServiceError."""

    def encode(self, result: Mapping[str, Any] | None, request_id: str) -> Response:
        """The successful response carrying ``result``."""


class NamedInBody:
    """A call whose operation is named in the request body (the query protocol's ``Action``)."""

    def named(self, body: bytes) -> OperationCall:
        """The call the body names; raises UnknownOperationException when it names none."""
        raise NotImplementedError


class WireProtocol(Protocol):
    """One service's binding to an AWS wire protocol."""

    claims_only_root: bool
    """True when ``claims`` can be true only for the path ``/`` (so a table may skip it for any other)."""

    def claims(self, request: HttpRequest) -> bool:
        """Whether the request is addressed to this service (cheap: no body, no validation)."""

    def operation(self, request: HttpRequest) -> OperationCall:
        """The operation a claimed request calls; raises UnknownOperationException when none matches."""

    def encode_error(self, error: ServiceError, request_id: str) -> Response:
        """The error response, in this protocol's shape."""
