"""Connection-level limits, below the pipeline: what one connection or one client may hold.

uvicorn's httptools protocol, with the gaps filled (uvicorn has no header or body timeout, no
header size limit, no timer on a connection that never sends a byte, and ``limit_concurrency``
still lets idle connections hold file descriptors)::

    connect ──idle (keep-alive timeout)──► first byte ──headers (header timeout, size limit)──►
      body (body timeout) ──► request complete ──► response ──► idle again (uvicorn's keep-alive)

    a timeout while reading    -> 408 RequestTimeoutException, connection closed
    headers over the limit     -> 431 RequestHeaderFieldsTooLarge, connection closed
    a client over its cap      -> 503 ServiceUnavailable, connection closed at once
    the server at its cap      -> the longest-idle connection is closed to make room (else 503)

``guarded_protocol(limits)`` returns the protocol class uvicorn is started with (``http=``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from collections import Counter, OrderedDict
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from modelyard.deadline import Deadline
from modelyard.edge import zero_copy
from modelyard.settings import EdgeLimits

if TYPE_CHECKING:
    from uvicorn._types import ASGI3Application

    from modelyard.edge.lean_invoke import LeanInvocations, LeanRequest

log = logging.getLogger("modelyard.server")

FD_RESERVE = 256
"""File descriptors kept free of client connections (database, logs, instance sockets, sandboxes)."""


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            log.warning("could not raise the open-file limit from %d", soft)
    return soft


def connection_cap(limits: EdgeLimits, fd_limit: int) -> int:
    """The configured connection cap, lowered to stay ``FD_RESERVE`` below the file-descriptor limit."""
    return max(1, min(limits.max_connections, fd_limit - FD_RESERVE))


def _answer(status: int, reason: str, code: str, message: str) -> bytes:
    body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\nx-amzn-errortype: {code}\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode("latin-1") + body


MAX_PIPELINED = 64
"""Requests one connection may have parsed ahead of the one being answered (HTTP pipelining). Each holds
a request cycle in memory, and one read can hold thousands of small requests: beyond this the connection
is closed."""

BODY_PROGRESS_BYTES = 1 << 20
"""Bytes of body that restart the body deadline (a minimum rate of a megabyte per deadline)."""


class ConnectionBook:
    """Every open connection of one server: counts per client address and the idle ones, oldest first."""

    def __init__(self, cap: int, per_client: int) -> None:
        self.cap = cap
        self.per_client = per_client
        self.open = 0
        self.by_client: Counter[str] = Counter()
        self.idle: OrderedDict[GuardedProtocol, None] = OrderedDict()

    def admit(self, connection: GuardedProtocol) -> str | None:
        """Register a new connection, or say why it is refused (evicting the longest-idle one if full)."""
        if self.by_client[connection.client_key] >= self.per_client:
            return f"client {connection.client_key} already has {self.per_client} open connections"
        if self.open >= self.cap:
            if not self.idle:
                return f"the server is at its cap of {self.cap} connections"
            oldest, _ = self.idle.popitem(last=False)
            oldest.evict()
        self.open += 1
        self.by_client[connection.client_key] += 1
        return None

    def release(self, connection: GuardedProtocol) -> None:
        """Forget a closed connection."""
        self.idle.pop(connection, None)
        self.open -= 1
        self.by_client[connection.client_key] -= 1
        if self.by_client[connection.client_key] <= 0:
            del self.by_client[connection.client_key]


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with read timeouts, a header size limit and connection caps; invocations
    the ``lean`` path claims are served without ASGI (``edge.lean_invoke``)."""

    limits: EdgeLimits
    book: ConnectionBook
    lean: LeanInvocations | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client_key = ""
        self._admitted = False
        self._closed = False
        self._reading_headers = True
        self._header_bytes = 0
        self._deadline = Deadline(self.loop, self._expired)
        self._phase = ""
        self._phase_seconds = 0.0
        self._arm_after_read = False
        """A request's header or body deadline is due to be set once the bytes at hand are parsed (a request
        that arrives whole in one read never sets one)."""
        self._body_progress = 0
        self._lean_request: LeanRequest | None = None
        self._lean_busy = False
        self.keep_alive = True
        """False once the server is shutting down (a lean request in flight then closes the connection)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Admit the connection (or refuse it at once) and start its idle timer."""
        super().connection_made(transport)
        self.client_key = self.client[0] if self.client else ""
        refusal = self.book.admit(self)
        if refusal is not None:
            log.warning("refused a connection: %s", refusal)
            self._refuse(503, "Service Unavailable", "ServiceUnavailable", f"Connection refused: {refusal}")
            return
        self._admitted = True
        self._idle()

    def connection_lost(self, exc: Exception | None) -> None:
        """Release the connection's place and timer."""
        self._deadline.close()
        if self._admitted:
            self._admitted = False
            self.book.release(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feed the parser, counting header bytes so a never-ending header block is cut."""
        if self._closed:
            return
        if self._header_bytes == 0 and self._reading_headers and self._take_whole(data):
            return
        if self._reading_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._arm_after_read:
            self._arm_after_read = False
            if not self._closed:
                self._deadline.set(self._phase_seconds)
        if self._reading_headers and not self._closed and self._header_bytes > self.limits.max_header_bytes:
            self._too_large(self._header_bytes)

    def _take_whole(self, data: bytes) -> bool:
        """Serve ``data`` on the lean path without the parser if it is one whole invocation request the lean
        path takes (``LeanInvocations.claim_whole``); the parser, never fed it, stays between requests."""
        if self.lean is None or self._lean_busy or self.pipeline or \
                (self.cycle is not None and not self.cycle.response_complete):
            return False
        lean = self.lean.claim_whole(data, self.limits.max_header_bytes)
        if lean is None:
            return False
        self.book.idle.pop(self, None)
        self._cancel()
        self._lean_busy = True
        self.lean.start(self, lean)
        return True

    def on_message_begin(self) -> None:
        """A request starts: it is no longer idle, and its headers must arrive in time. Its ASGI scope is
        made only if the request takes the ASGI path (``_start_scope``); the lean path needs none."""
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        self.book.idle.pop(self, None)
        self._arm_later(self.limits.header_timeout_seconds, "headers")

    def _start_scope(self) -> None:
        """The ASGI scope uvicorn's ``on_message_begin`` makes, over the headers collected so far."""
        self.scope = {  # type: ignore[typeddict-item]
            "type": "http",
            "asgi": {"version": self.asgi_version, "spec_version": "2.3"},
            "http_version": "1.1",
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,  # type: ignore[typeddict-item]
            "root_path": self.root_path,
            "headers": self.headers,
            "state": self.app_state.copy(),
        }

    def on_url(self, url: bytes) -> None:
        """Collect the URL (counted against the header limit)."""
        if not self._closed:
            self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        """Collect a header, its name lower-cased (counted against the header limit)."""
        if not self._closed:
            name = name.lower()
            if name == b"expect" and value.lower() == b"100-continue":
                self.expect_100_continue = True
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        """Check the header block's size and refuse a protocol upgrade, then start the request with its body
        deadline."""
        if self._closed:
            return
        if self.parser.should_upgrade():
            self._refuse_upgrade()
            return
        self._reading_headers = False
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_header_bytes:
            self._too_large(size)
            return
        self._body_progress = 0
        self._arm_later(self.limits.body_timeout_seconds, "body")
        if self.lean is not None and not self._lean_busy and not self.pipeline and \
                (self.cycle is None or self.cycle.response_complete):
            self._lean_request = self.lean.claim(self)
            if self._lean_request is not None:
                return
        self._start_scope()
        zero_copy.enable(self.scope)
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is not None and self.cycle is not before:
            zero_copy.wrap(self.cycle)
        if len(self.pipeline) > MAX_PIPELINED:
            log.warning("closed a connection from %s: more than %d pipelined requests", self.client_key,
                        MAX_PIPELINED)
            self._refuse(400, "Bad Request", "BadRequest",
                         f"More than {MAX_PIPELINED} requests were sent ahead of their answers on one connection; "
                         "wait for answers, or open more connections")

    def on_body(self, body: bytes) -> None:
        """Pass a body chunk on, unless the connection was cut. Every ``BODY_PROGRESS_BYTES`` received
        restart the body deadline, so a large upload (S3) that keeps moving is not cut, while a trickle is."""
        if not self._closed:
            self._body_progress += len(body)
            if self._body_progress >= BODY_PROGRESS_BYTES:
                self._body_progress = 0
                self._arm(self.limits.body_timeout_seconds, "body")
            if self._lean_request is not None:
                self._lean_request.body.append(body)
                return
            super().on_body(body)

    def on_message_complete(self) -> None:
        """The request is read: no more read deadline until the next one begins."""
        if self._closed:
            return
        self._cancel()
        self._reading_headers = True
        self._header_bytes = 0
        lean, self._lean_request = self._lean_request, None
        if lean is not None and self.lean is not None:
            self._lean_busy = True
            self.lean.start(self, lean)
            return
        super().on_message_complete()

    def _refuse_upgrade(self) -> None:
        """No API here switches protocols: an upgrade (``Connection: upgrade`` with ``Upgrade``, or CONNECT)
        is answered 400 and the connection closed. Served as HTTP/1.1 instead, its body would be lost (the
        parser stops at an upgrade's headers); handed to uvicorn's WebSocket protocol, the connection would
        leave this book without being released."""
        upgrade = next((value for name, value in self.headers if name == b"upgrade"), b"")
        self._refuse(400, "Bad Request", "BadRequest",
                     f"This server does not switch protocols (Upgrade: {upgrade.decode('latin-1')[:64]!r}); "
                     "send the request as plain HTTP/1.1, without Upgrade and Connection: upgrade")

    def _should_upgrade(self) -> bool:
        """Never: upgrades are refused in ``on_headers_complete``."""
        return False

    def _unsupported_upgrade_warning(self) -> None:
        """Nothing to log: the upgrade was already answered with a 400."""

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        """Start a request's ASGI task, or queue it behind a lean request in flight (pipelining)."""
        if self._lean_busy:
            self.flow.pause_reading()
            self.pipeline.appendleft((cycle, app))
            return
        super()._start_asgi_task(cycle, app)

    def lean_finished(self, response: bytes | None, keep_alive: bool) -> None:
        """A lean request's response (None: nothing to send, close): write it, then go on as after any
        response (keep-alive, the next pipelined request)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            self._lean_busy = False
            return
        if response is not None:
            transport.write(response)
        if not keep_alive or response is None:
            transport.close()
        elif self.flow.write_paused:
            waiting = self.loop.create_task(self._after_drain())
            self.tasks.add(waiting)
            waiting.add_done_callback(self.tasks.discard)
            return
        self._lean_busy = False
        self.on_response_complete()

    async def _after_drain(self) -> None:
        """The client is not reading its answers: go on (read the next request) only once the answer
        written has left the transport's buffer, as uvicorn's own responses wait, so answers cannot pile
        up in memory."""
        await self.flow.drain()
        self._lean_busy = False
        if not self.keep_alive and self.transport is not None:
            self.transport.close()
        self.on_response_complete()

    def shutdown(self) -> None:
        """Server shutdown: close now, or after the response in flight."""
        if self._lean_busy:
            self.keep_alive = False
            return
        super().shutdown()

    def on_response_complete(self) -> None:
        """A response went out: start the next pipelined request, or wait idle. uvicorn's own keep-alive
        timer is not armed: the idle phase's deadline (the same keep-alive timeout) closes the connection."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        elif self._admitted:
            self._idle()

    def evict(self) -> None:
        """Close this idle connection to make room for a new one."""
        self._closed = True
        self.transport.close()

    def _idle(self) -> None:
        self.book.idle[self] = None
        self._arm(self.limits.keep_alive_timeout_seconds, "idle")

    def _arm(self, seconds: float, phase: str) -> None:
        self._phase, self._phase_seconds = phase, seconds
        self._arm_after_read = False
        self._deadline.set(seconds)

    def _arm_later(self, seconds: float, phase: str) -> None:
        """Enter ``phase``; its deadline, ``seconds`` from now, is set when the read being parsed is done
        (the same moment, give or take the parse) unless the request completes first."""
        self._phase, self._phase_seconds = phase, seconds
        self._arm_after_read = True

    def _cancel(self) -> None:
        self._arm_after_read = False
        self._deadline.clear()

    def _expired(self) -> None:
        phase, seconds = self._phase, self._phase_seconds
        if phase == "idle":
            self.evict()
            return
        log.info("closed a connection from %s: no complete request %s within %ss", self.client_key, phase, seconds)
        self._refuse(408, "Request Timeout", "RequestTimeoutException",
                     f"The request {phase} did not arrive within {seconds:g} seconds")

    def _too_large(self, size: int) -> None:
        self._refuse(431, "Request Header Fields Too Large", "RequestHeaderFieldsTooLarge",
                     f"The request line and headers ({size} bytes or more) exceed the limit of "
                     f"{self.limits.max_header_bytes} bytes")

    def _refuse(self, status: int, reason: str, code: str, message: str) -> None:
        self._closed = True
        self._cancel()
        started = self.cycle is not None and self.cycle.response_started and not self.cycle.response_complete
        if not started and not self.transport.is_closing():
            self.transport.write(_answer(status, reason, code, message))
        self.transport.close()


def guarded_protocol(limits: EdgeLimits, cap: int, lean: LeanInvocations | None = None) -> type[GuardedProtocol]:
    """A protocol class for one server, sharing one ``ConnectionBook`` of at most ``cap`` connections (and
    serving invocations on the ``lean`` path, when given)."""
    book = ConnectionBook(cap, limits.max_connections_per_client)
    return type("ModelyardHttpProtocol", (GuardedProtocol,), {"limits": limits, "book": book, "lean": lean})
