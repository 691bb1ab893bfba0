"""One framed connection to a toolkit instance as an asyncio protocol: a request is one write and its
answer one future, with no stream reader, no drain and no extra task per call.

::

    call(frame, timeout) ─► transport.write(frame) ─► FrameParser.feed(data) ─► waiters[0].set_result
                          └► timer on the oldest: asyncio.TimeoutError   connection lost ─► ConnectionResetError
                                                                         bad frame ─► FrameError

The toolkit runs the frames of one connection one at a time and answers them in order, so several
calls may be in flight on one connection (pipelining): answers go to the waiting calls first-in
first-out. A call's ``timeout`` runs from when it reaches the head of the line (the answer before it
arrived), the moment the toolkit can start it. Calls made while others are in flight are written
together once per loop turn (one ``writelines``). The caller closes a connection whose call failed in
any way; the calls behind the failed one then fail with ``Withdrawn`` (the toolkit never started them).
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from typing import Any

from modelyard.deadline import Deadline
from modelyard.toolkit import framing

Frame = tuple[dict[str, Any], bytes]

HEADER_CACHE_ENTRIES = 1024
"""Distinct invocation headers whose encoded frame header is kept (then the cache starts over)."""

_encoded: dict[tuple[str | None, ...], bytes] = {}


def invoke_header(content_type: str | None, accept: str | None, custom_attributes: str | None,
                  inference_id: str | None, target_model: str | None) -> bytes:
    """The encoded header of an invocation frame (a repeated one is encoded once)."""
    key = (content_type, accept, custom_attributes, inference_id, target_model)
    raw = _encoded.get(key)
    if raw is None:
        raw = framing.encode_header(framing.request_header(framing.OP_INVOKE, *key))
        if len(_encoded) >= HEADER_CACHE_ENTRIES:
            _encoded.clear()
        _encoded[key] = raw
    return raw


_batch_prefixes: dict[tuple[str | float | None, ...], bytes] = {}


def batch_header(lengths: list[int], content_type: str | None, accept: str | None, timeout: float) -> bytes:
    """The encoded header of an ``invoke-batch`` frame of records of these ``lengths``, each allowed
    ``timeout`` seconds."""
    key = (content_type, accept, timeout)
    prefix = _batch_prefixes.get(key)
    if prefix is None:
        header = {**framing.request_header(framing.OP_INVOKE_BATCH, content_type, accept), "timeout": timeout}
        prefix = framing.encode_header(header)[:-1] + b',"lengths":['
        if len(_batch_prefixes) >= HEADER_CACHE_ENTRIES:
            _batch_prefixes.clear()
        _batch_prefixes[key] = prefix
    return prefix + ",".join(map(str, lengths)).encode() + b"]}"


class Withdrawn(ConnectionResetError):
    """The connection closed while this call waited behind another: the toolkit never started it."""


class FrameConnection(asyncio.Protocol):
    """A client connection to a toolkit's unix socket."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = framing.FrameParser()
        self._waiters: deque[tuple[asyncio.Future[Frame], float]] = deque()
        self._deadline = Deadline(loop, self._expire)
        self._held: list[bytes] = []

    @classmethod
    async def open(cls, path: str) -> FrameConnection:
        """Connect to the toolkit listening at ``path``."""
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_unix_connection(lambda: cls(loop), path)
        return connection

    @classmethod
    async def over(cls, sock: socket.socket) -> FrameConnection:
        """Speak frames over an already connected ``sock`` (an authenticated channel's)."""
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(lambda: cls(loop), sock=sock)
        return connection

    @property
    def in_flight(self) -> int:
        """Calls sent and not answered yet."""
        return len(self._waiters)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._parser.feed(data)
        except framing.FrameError as exc:
            self._fail(exc)
            self.close()
            return
        waiters = self._waiters
        for frame in frames:
            if not waiters:
                self.close()
                return
            waiter = waiters.popleft()[0]
            if not waiter.done():
                waiter.set_result(frame)
        if frames:
            self._arm()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._held.clear()
        self._fail(ConnectionResetError("connection closed before a response frame"))

    def _fail(self, exc: BaseException) -> None:
        self._deadline.close()
        waiters, self._waiters = self._waiters, deque()
        for position, (waiter, _) in enumerate(waiters):
            if not waiter.done():
                waiter.set_exception(exc if position == 0 else Withdrawn(
                    "connection closed before the toolkit started this request"))

    def _arm(self) -> None:
        """Time the call at the head of the line (the one the toolkit is running)."""
        if self._waiters:
            self._deadline.set(self._waiters[0][1])
        else:
            self._deadline.clear()

    def _expire(self) -> None:
        if self._waiters:
            waiter = self._waiters[0][0]
            if not waiter.done():
                waiter.set_exception(asyncio.TimeoutError())

    def _flush(self) -> None:
        held, self._held = self._held, []
        if held and self.transport is not None and not self.closed:
            self.transport.writelines(held)

    def call(self, raw_header: bytes, body: bytes, timeout: float) -> asyncio.Future[Frame]:
        """Send one request frame (its header already encoded); the future is its answer, up to ``timeout``
        seconds from when the answers before it arrived, or asyncio.TimeoutError, ConnectionResetError
        (``Withdrawn`` when it waited behind a call that failed) or FrameError. A connection already closed
        or a frame over the limits raises at once."""
        transport = self.transport
        if self.closed or transport is None:
            raise ConnectionResetError("connection closed before a response frame")
        framing.check_lengths(len(raw_header), len(body))
        waiter: asyncio.Future[Frame] = self.loop.create_future()
        head = framing.PREFIX.pack(len(raw_header), len(body)) + raw_header
        small = len(body) <= framing.SMALL_BODY
        waiters = self._waiters
        if waiters:
            if not self._held:
                self.loop.call_soon(self._flush)
            self._held.extend((head + body,) if small else (head, body))
            waiters.append((waiter, timeout))
        else:
            if small:
                transport.write(head + body)
            else:
                transport.writelines((head, body))
            waiters.append((waiter, timeout))
            self._arm()
        return waiter

    def close(self) -> None:
        """Close the connection (the calls in flight fail with ConnectionResetError)."""
        self.closed = True
        self._held.clear()
        if self.transport is not None:
            self.transport.close()
