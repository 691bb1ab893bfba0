"""One framed connection to a toolkit instance as an asyncio protocol: a request is one write and its
answer one future, with no stream reader, no drain and no extra task per call.

::

    call(frame, timeout) ─► transport.write(frame) ─► FrameParser.feed(data) ─► waiter.set_result
                          └► timer: asyncio.TimeoutError      connection lost ─► ConnectionResetError
                                                              bad frame ─► FrameError

One request is in flight per connection at a time (the toolkit's rule); the caller closes a connection
whose call failed in any way, so a late answer never meets the next request.
"""

from __future__ import annotations

import asyncio
from typing import Any

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


def _expire(waiter: asyncio.Future[Frame]) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError())


class FrameConnection(asyncio.Protocol):
    """A client connection to a toolkit's unix socket."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = framing.FrameParser()
        self._waiter: asyncio.Future[Frame] | None = None

    @classmethod
    async def open(cls, path: str) -> FrameConnection:
        """Connect to the toolkit listening at ``path``."""
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_unix_connection(lambda: cls(loop), path)
        return connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._parser.feed(data)
        except framing.FrameError as exc:
            self._fail(exc)
            self.close()
            return
        for frame in frames:
            waiter, self._waiter = self._waiter, None
            if waiter is None or waiter.done():
                self.close()
                return
            waiter.set_result(frame)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionResetError("connection closed before a response frame"))

    def _fail(self, exc: BaseException) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    async def call(self, raw_header: bytes, body: bytes, timeout: float) -> Frame:
        """Send one request frame (its header already encoded) and wait up to ``timeout`` seconds for the
        answer; raises asyncio.TimeoutError, ConnectionResetError or FrameError."""
        transport = self.transport
        if self.closed or transport is None:
            raise ConnectionResetError("connection closed before a response frame")
        framing.check_lengths(len(raw_header), len(body))
        waiter: asyncio.Future[Frame] = self.loop.create_future()
        self._waiter = waiter
        head = framing.PREFIX.pack(len(raw_header), len(body)) + raw_header
        if len(body) <= framing.SMALL_BODY:
            transport.write(head + body)
        else:
            transport.writelines((head, body))
        timer = self.loop.call_later(timeout, _expire, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()

    def close(self) -> None:
        """Close the connection (a call in flight fails with ConnectionResetError)."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()
