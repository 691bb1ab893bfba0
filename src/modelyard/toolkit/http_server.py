"""A small HTTP/1.1 adapter for the SageMaker container contract on 127.0.0.1:<port>.

``GET /ping``, ``POST /invocations``, ``GET /execution-parameters``; keep-alive, Content-Length
bodies (chunked bodies are refused with 501), ``Expect: 100-continue``, TCP_NODELAY.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from http import HTTPStatus

from modelyard.toolkit import framing
from modelyard.toolkit.context import CUSTOM_ATTRIBUTES, Headers
from modelyard.toolkit.handler import Response
from modelyard.toolkit.routes import Service

MAX_HEAD_BYTES = 64 * 1024
_TEXT = "text/plain; charset=utf-8"
_ROUTES = {"/ping": "GET", "/invocations": "POST", "/execution-parameters": "GET"}


class HttpError(Exception):
    """A request the adapter refuses; the connection is closed after the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Request:
    """One parsed request head."""

    __slots__ = ("method", "path", "headers", "length", "keep_alive")

    def __init__(self, method: str, path: str, headers: Headers, length: int, keep_alive: bool) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.length = length
        self.keep_alive = keep_alive


def parse_head(raw: bytes) -> Request:
    """Parse a request line and headers (without the final blank line)."""
    try:
        lines = raw.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError:
        raise HttpError(400, "malformed request line") from None
    if not version.startswith("HTTP/1."):
        raise HttpError(505, f"unsupported protocol {version}")
    headers = Headers()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise HttpError(400, f"malformed header line {line[:80]!r}")
        headers[name.strip()] = value.strip()
    if "transfer-encoding" in headers:
        raise HttpError(501, "chunked request bodies are not supported; send Content-Length")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise HttpError(400, "invalid Content-Length") from None
    if length < 0 or length > framing.MAX_BODY_BYTES:
        raise HttpError(413, f"request body of {length} bytes is too large")
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return Request(method, target.split("?", 1)[0], headers, length, keep_alive)


def render(response: Response, keep_alive: bool) -> bytes:
    """The response head and body as bytes."""
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {response.status} {reason}", f"Content-Length: {len(response.body)}"]
    if response.content_type:
        lines.append(f"Content-Type: {response.content_type}")
    if response.custom_attributes:
        lines.append(f"{CUSTOM_ATTRIBUTES}: {response.custom_attributes}")
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


class HttpProtocol(asyncio.Protocol):
    """One HTTP/1.1 connection; requests are answered in order."""

    def __init__(self, service: Service, loop: asyncio.AbstractEventLoop) -> None:
        self._service = service
        self._loop = loop
        self._buffer = bytearray()
        self._head: Request | None = None
        self._ready: deque[tuple[Request, bytes]] = deque()
        self._busy = False
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        if self._transport is None:
            return
        self._buffer += data
        try:
            self._parse()
        except HttpError as exc:
            self._write(Response(exc.status, str(exc).encode(), _TEXT), keep_alive=False)
            return
        self._next()

    def _parse(self) -> None:
        buffer = self._buffer
        while True:
            if self._head is None:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(buffer) > MAX_HEAD_BYTES:
                        raise HttpError(431, "request head too large")
                    return
                self._head = parse_head(bytes(buffer[:end]))
                del buffer[:end + 4]
                if self._head.headers.get("expect", "").lower() == "100-continue" and \
                        len(buffer) < self._head.length and self._transport is not None:
                    self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            if len(buffer) < self._head.length:
                return
            body = bytes(buffer[:self._head.length])
            del buffer[:self._head.length]
            self._ready.append((self._head, body))
            self._head = None

    def _next(self) -> None:
        while self._ready and not self._busy and self._transport is not None:
            request, body = self._ready.popleft()
            self._handle(request, body)

    def _handle(self, request: Request, body: bytes) -> None:
        method = _ROUTES.get(request.path)
        if method is None:
            self._write(Response(404, f"no route {request.path}".encode(), _TEXT), request.keep_alive)
        elif request.method != method:
            self._write(Response(405, f"{request.path} takes {method}".encode(), _TEXT), request.keep_alive)
        elif request.path == "/ping":
            self._write(self._service.ping(), request.keep_alive)
        elif request.path == "/execution-parameters":
            self._write(self._service.execution_parameters(), request.keep_alive)
        else:
            self._busy = True
            self._service.invoke(self._loop, body, request.headers,
                                 lambda response: self._on_response(response, request.keep_alive))

    def _on_response(self, response: Response, keep_alive: bool) -> None:
        self._busy = False
        self._write(response, keep_alive)
        self._next()

    def _write(self, response: Response, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None:
            return
        transport.write(render(response, keep_alive))
        if not keep_alive:
            transport.close()
            self._transport = None
