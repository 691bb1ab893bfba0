"""The lean path for ``POST /endpoints/<name>/invocations``: no ASGI scope, cycle or messages.

The guarded httptools protocol (``edge.connections``) asks ``LeanInvocations.claim`` when a request's
headers are complete. A claimed request's body is collected by the protocol, then served by
``Pipeline.read`` (the same route, auth, decode, handler and error encoding as every other request)
and its response is written in one ``transport.write``::

    headers complete ─► claim: POST, a plain ASCII /endpoints/*/invocations URL (no query, no
                        percent-encoding), Content-Length within the service's limit, no Expect,
                        no Upgrade, routed to sagemaker-runtime, nothing else in flight on the connection
                   └─► anything else: uvicorn's ASGI path, unchanged
    body ─► request complete ─► task: Pipeline.read ─► status line, headers, body in one write

Everything the ASGI path does per request is kept: the same response headers (uvicorn's ``server`` and
``date`` included), keep-alive and ``Connection: close``, HTTP/1.0, pipelined requests (served in
order after the lean one), graceful shutdown (the task is one of the server's tasks) and uvicorn's
answer to an invalid header value (500, connection closed).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from uvicorn.protocols.http.httptools_impl import HEADER_VALUE_RE, STATUS_LINE

from modelyard.edge.pipeline import Pipeline
from modelyard.edge.services import Service
from modelyard.edge.whole_request import take_whole
from modelyard.wire.protocol import HttpRequest

if TYPE_CHECKING:
    from modelyard.edge.connections import GuardedProtocol

log = logging.getLogger("modelyard.server")

PREFIX = b"/endpoints/"
SUFFIX = b"/invocations"
_SERVER_ERROR = (b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n"
                 b"content-length: 21\r\nconnection: close\r\n\r\nInternal Server Error")


class LeanRequest:
    """A claimed request: what ``Pipeline.read`` needs, and its body as it arrives."""

    __slots__ = ("request", "service", "keep_alive", "body")

    def __init__(self, request: HttpRequest, service: Service, keep_alive: bool) -> None:
        self.request = request
        self.service = service
        self.keep_alive = keep_alive
        self.body: list[bytes] = []


class LeanInvocations:
    """Claims invocation requests for the lean path and serves them through ``pipeline``."""

    def __init__(self, pipeline: Pipeline, service_name: str = "sagemaker-runtime") -> None:
        self.pipeline = pipeline
        self.service_name = service_name

    def claim(self, protocol: GuardedProtocol) -> LeanRequest | None:
        """The request whose headers ``protocol`` just parsed, if the lean path can serve it."""
        url = protocol.url
        if not (url.startswith(PREFIX) and url.endswith(SUFFIX)) or b"?" in url or b"%" in url or b"#" in url \
                or not url.isascii() or protocol.expect_100_continue:
            return None
        parser = protocol.parser
        if parser.get_method() != b"POST" or parser.should_upgrade():
            return None
        raw = protocol.headers
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in raw}
        if len(headers) != len(raw) or "transfer-encoding" in headers:
            return None
        keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive()
        return self._routed(url.decode("ascii"), url, headers, keep_alive)

    def claim_whole(self, data: bytes, max_head: int) -> LeanRequest | None:
        """``data``, one read on a connection between requests, if it is exactly one complete invocation
        request of ``whole_request``'s strict subset (request line and headers within ``max_head`` bytes)
        that the lean path can serve, its body collected."""
        whole = take_whole(data, max_head)
        if whole is None:
            return None
        lean = self._routed(whole.path, whole.path.encode("ascii"), whole.headers, True)
        if lean is not None:
            lean.body.append(whole.body)
        return lean

    def _routed(self, path: str, url: bytes, headers: dict[str, str], keep_alive: bool) -> LeanRequest | None:
        request = HttpRequest("POST", path, b"", headers, url)
        service = self.pipeline.services.find(request)
        length = headers.get("content-length", "")
        if service is None or service.name != self.service_name or not length.isdigit() \
                or int(length) > service.body_limit:
            return None
        return LeanRequest(request, service, keep_alive)

    def start(self, protocol: GuardedProtocol, lean: LeanRequest) -> None:
        """Serve a complete request on a task the server waits for at shutdown."""
        task = protocol.loop.create_task(self._serve(protocol, lean))
        protocol.tasks.add(task)
        task.add_done_callback(protocol.tasks.discard)

    async def _serve(self, protocol: GuardedProtocol, lean: LeanRequest) -> None:
        body = lean.body[0] if len(lean.body) == 1 else b"".join(lean.body)
        try:
            status, headers, answer = await self.pipeline.read(lean.service, lean.request, body)
        except BaseException:
            protocol.lean_finished(None, False)
            raise
        if not isinstance(answer, bytes):  # a streamed body: InvokeEndpoint answers whole bodies
            chunks = [chunk async for chunk in answer.chunks()]
            answer.close()
            answer = b"".join(chunks)
        keep_alive = lean.keep_alive and protocol.keep_alive
        has_length = False
        content = [STATUS_LINE[status]]
        for name, value in protocol.server_state.default_headers:
            content += (name, b": ", value, b"\r\n")
        for name, value in headers:
            if HEADER_VALUE_RE.search(value):
                log.error("invalid header value in a response: %r", name)
                protocol.lean_finished(_SERVER_ERROR, False)
                return
            if name == b"connection" and b"close" in value.lower():
                keep_alive = False
            has_length = has_length or name == b"content-length"
            content += (name, b": ", value, b"\r\n")
        if not has_length:
            content += (b"content-length: ", str(len(answer)).encode(), b"\r\n")
        if not keep_alive:
            content.append(b"connection: close\r\n")
        content += (b"\r\n", answer)
        protocol.lean_finished(b"".join(content), keep_alive)
