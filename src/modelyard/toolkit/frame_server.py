"""The frame protocol on the unix socket: one request in flight per connection, many connections.

::

    data_received ─► FrameParser ─► ping / execution-parameters: answered on the loop at once
                                  └► invoke: HandlerThread ─► response frame (then next frame)
                                  └► invoke-batch: the same, each record run as its own invocation,
                                     one response frame for them all (bad lengths: a 400 frame; a record
                                     running past the frame's "timeout": a "timed_out" frame, then close)
                                     (written by the handler thread itself when the transport's buffer
                                      is empty: the loop is not woken; a plain invoke frame waiting
                                      behind it (a pipelining client) is handed to the service by the
                                      handler thread too, so pipelined frames run back to back)
                                    (a "stream" invoke whose handler yields parts: start, part … end/error
                                     frames, written as the parts are produced)
    bad frame ─► 400 frame (when the transport is still writable) ─► close
    connection lost with an invocation in flight ─► the service abandons it (frees a stuck worker)
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections import deque
from typing import Any

from modelyard.toolkit import framing
from modelyard.toolkit.handler import BatchProgress, Response
from modelyard.toolkit.routes import Service, frame_headers

_TEXT = "text/plain; charset=utf-8"


class FrameProtocol(asyncio.Protocol):
    """One unix-socket connection speaking ``framing``."""

    def __init__(self, service: Service, loop: asyncio.AbstractEventLoop) -> None:
        self._service = service
        self._loop = loop
        self._parser = framing.FrameParser()
        self._queue: deque[tuple[dict[str, Any], bytes]] = deque()
        self._busy = False
        self._transport: asyncio.Transport | None = None
        self._fd = -1
        self._loop_thread = threading.get_ident()
        self._progress: BatchProgress | None = None
        """The batch running (or last run) on this connection, and its timeout per record."""
        self._timeout = 0.0
        self._watching = False
        self._lock = threading.Lock()
        """Held by the handler thread while it answers on this connection, and by the loop while it changes
        what that answer depends on (busy, the queue, the transport): the socket stays open while it writes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        self._fd = sock.fileno() if sock is not None else -1

    def connection_lost(self, exc: Exception | None) -> None:
        with self._lock:
            self._transport = None
            self._queue.clear()
            busy = self._busy
        if busy:
            abandon = getattr(self._service, "abandon", None)
            if abandon is not None:
                abandon(self._on_response)

    def data_received(self, data: bytes) -> None:
        if self._transport is None:
            return
        try:
            frames = self._parser.feed(data)
        except framing.FrameError as exc:
            self._reject(str(exc))
            return
        with self._lock:
            if self._busy or self._queue:
                self._queue.extend(frames)
                return
        for index, (header, body) in enumerate(frames):
            self._dispatch(header, body)
            if self._busy:
                with self._lock:
                    self._queue.extend(frames[index + 1:])
                    answered = not self._busy
                if answered:
                    self._next()
                return

    def _dispatch(self, header: dict[str, Any], body: bytes) -> None:
        op = header.get("op")
        if op == framing.OP_INVOKE:
            self._busy = True
            if header.get(framing.STREAM):
                self._service.invoke(self._loop, body, frame_headers(header), self._on_response,
                                     FrameSink(self, self._loop))
            else:
                self._service.invoke(self._loop, body, frame_headers(header), self._on_response,
                                     reply=self._reply if self._fd >= 0 else None)
        elif op == framing.OP_INVOKE_BATCH:
            self._busy = True
            reply = self._reply if self._fd >= 0 else None
            try:
                bodies = framing.split_batch(header.get("lengths"), body)
            except framing.FrameError as exc:
                self._service.answer(self._loop, Response(400, str(exc).encode(), _TEXT), self._on_response, reply)
                return
            timeout = header.get("timeout")
            progress = None
            if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
                progress = self._progress = BatchProgress()
                self._timeout = float(timeout)
                if not self._watching:
                    self._watching = True
                    if threading.get_ident() == self._loop_thread:
                        self._loop.call_later(self._timeout, self._watch)
                    else:
                        self._loop.call_soon_threadsafe(self._watch)
            self._service.invoke_batch(self._loop, bodies, frame_headers(header), self._on_response, reply,
                                       progress)
        elif op == framing.OP_PING:
            self._send(self._service.ping())
        elif op == framing.OP_EXECUTION_PARAMETERS:
            self._send(self._service.execution_parameters())
        else:
            self._send(Response(400, f"unknown op {op!r}; expected one of {', '.join(framing.OPS)}".encode(),
                                _TEXT))

    def _watch(self) -> None:
        """On the loop, while batches run on this connection: when the record running has run the batch's
        timeout, answer the batch with the record that timed out and close the connection (which recycles the
        stuck handler, as when the router gives up on an invocation); otherwise look again when it could
        have. One timer a connection, stopped when the connection has nothing left to run."""
        with self._lock:
            progress, timeout, transport = self._progress, self._timeout, self._transport
            if transport is None or progress is None or (progress.done and not self._busy and not self._queue):
                self._watching = False
                self._progress = None
                return
            started = progress.started
            left = timeout if progress.done or started is None else started + timeout - time.monotonic()
            if left <= 0:
                message = f"record {progress.index + 1} of the batch ran longer than {timeout:g} s"
                self.write_frame({"status": 504, framing.TIMED_OUT: progress.index}, message.encode())
        if left > 0:
            self._loop.call_later(left, self._watch)
            return
        transport.close()

    def _reply(self, response: Response) -> bool:
        """On the handler thread: write the answer to the socket now, when the transport holds nothing unsent
        and what waits behind it on this connection (if anything) is a plain invocation, which this thread
        then hands to the service itself (pipelined frames run back to back, with no trip through the loop);
        False leaves it to the loop (``_on_response``)."""
        if response.streamed:
            return False
        with self._lock:
            transport = self._transport
            queue = self._queue
            if transport is None or transport.is_closing() or transport.get_write_buffer_size():
                return False
            if queue and not _plain_invoke(queue[0][0]):
                return False
            data = b"".join(answer_parts(response))
            try:
                sent = os.write(self._fd, data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return False
            if sent == len(data):
                if queue:
                    header, body = queue.popleft()
                    self._dispatch(header, body)
                else:
                    self._busy = False
                return True
        self._loop.call_soon_threadsafe(self._rest_written, data[sent:])
        return True

    def _rest_written(self, rest: bytes) -> None:
        """On the loop: the part of an answer the socket did not take at once, then the next frame."""
        self._busy = False
        if self._transport is None:
            return
        self._transport.write(rest)
        self._next()

    def _on_response(self, response: Response) -> None:
        self._busy = False
        if self._transport is None:
            return
        self._send(response)
        self._next()

    def _next(self) -> None:
        queue = self._queue
        while queue and not self._busy and self._transport is not None:
            header, body = queue.popleft()
            self._dispatch(header, body)

    def _send(self, response: Response) -> None:
        if response.streamed:
            self.write_frame(framing.stream_end_header(response.status), response.body)
            return
        transport = self._transport
        if transport is not None:
            for part in answer_parts(response):
                transport.write(part)

    def write_frame(self, header: dict[str, Any], body: bytes) -> None:
        """Write one frame, if the connection is still open."""
        transport = self._transport
        if transport is None:
            return
        for part in framing.frame_parts(header, body):
            transport.write(part)

    def _reject(self, message: str) -> None:
        print(f"modelyard-toolkit: closing connection after a bad frame: {message}", file=sys.stderr)
        self._send(Response(400, message.encode(), _TEXT))
        self._queue.clear()
        if self._transport is not None:
            self._transport.close()
            self._transport = None


def _plain_invoke(header: dict[str, Any]) -> bool:
    op = header.get("op")
    return op == framing.OP_INVOKE_BATCH or (op == framing.OP_INVOKE and not header.get(framing.STREAM))


ANSWER_HEADERS_KEPT = 256
"""Distinct answer headers (status, content type, custom attributes) kept encoded (then the cache starts over)."""

_answer_headers: dict[tuple[int, str | None, str | None], bytes] = {}


def answer_parts(response: Response) -> list[bytes]:
    """The answer frame of a (not streamed) response as buffers to write in order (one when the body is
    small); the header of a plain answer is encoded once per distinct status, content type and custom
    attributes."""
    if response.results is not None:
        return framing.frame_parts({"status": response.status, "results": response.results}, response.body)
    key = (response.status, response.content_type, response.custom_attributes)
    header = _answer_headers.get(key)
    if header is None:
        header = framing.encode_header({"status": key[0], "content_type": key[1], "custom_attributes": key[2]})
        if len(_answer_headers) >= ANSWER_HEADERS_KEPT:
            _answer_headers.clear()
        _answer_headers[key] = header
    return framing.raw_frame_parts(header, response.body)


class FrameSink:
    """A streamed answer's frames on one connection; safe to call from the handler thread (the frames
    are written on the loop, in order, before the final answer that the runner reports after them)."""

    def __init__(self, protocol: FrameProtocol, loop: asyncio.AbstractEventLoop) -> None:
        self._protocol = protocol
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def start(self, status: int, content_type: str | None, custom_attributes: str | None) -> None:
        """Write the start frame."""
        self._emit(framing.stream_start_header(status, content_type, custom_attributes), b"")

    def part(self, data: bytes) -> None:
        """Write one part frame."""
        self._emit(framing.PART_HEADER, data)

    def _emit(self, header: dict[str, Any], body: bytes) -> None:
        if threading.get_ident() == self._loop_thread:
            self._protocol.write_frame(header, body)
        else:
            self._loop.call_soon_threadsafe(self._protocol.write_frame, header, body)
