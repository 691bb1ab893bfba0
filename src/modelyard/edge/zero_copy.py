"""ASGI's zero-copy send extension (``http.response.zerocopysend``) on uvicorn's httptools cycle: a
range of an open file goes from the page cache to the socket with ``os.sendfile``, never through
Python bytes (an S3 GET of a blob)::

    respond(..., FileBody)  --{"type": "http.response.zerocopysend", "file": fd, "offset", "count"}-->
      headers already flushed?  yes: sendfile on the loop thread, as much as the socket takes per call;
                                     when it is full, wait for it to drain (a writer on a dup of its fd)
                                no:  read and send a megabyte at a time (the ordinary path)
      then an empty ``http.response.body`` ends the response through uvicorn (keep-alive, accounting)

The loop never blocks: each ``sendfile`` call copies only what fits in the socket's send buffer. A
client that stops reading holds a waiting coroutine, as with the ordinary path, not a thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

EXTENSION = "http.response.zerocopysend"
FALLBACK_CHUNK = 1 << 20

Send = Callable[[Any], Awaitable[None]]


def enable(scope: Any) -> None:
    """Advertise the extension in a request's scope (before its cycle starts)."""
    scope.setdefault("extensions", {})[EXTENSION] = {}


def wrap(cycle: RequestResponseCycle) -> None:
    """Make ``cycle.send`` take zero-copy messages too (everything else goes to uvicorn's send)."""
    plain: Send = cycle.send

    async def send(message: Any) -> None:
        if message.get("type") != EXTENSION:
            await plain(message)
            return
        await _send_file(cycle, plain, message)

    cycle.send = send  # type: ignore[method-assign]


async def _send_file(cycle: RequestResponseCycle, plain: Send, message: Any) -> None:
    file = message["file"]
    fd = file if isinstance(file, int) else file.fileno()
    offset = int(message.get("offset") or 0)
    count = int(message["count"]) if message.get("count") is not None else os.fstat(fd).st_size - offset
    more_body = bool(message.get("more_body", False))
    if not cycle.response_started or cycle.response_complete or cycle.chunked_encoding:
        raise RuntimeError("a zero-copy body needs a started response with a content-length")
    if cycle.disconnected:
        return
    if cycle.scope["method"] == "HEAD" or count == 0:
        await plain({"type": "http.response.body", "body": b"", "more_body": more_body})
        return
    if count > cycle.expected_content_length:
        raise RuntimeError("Response content longer than Content-Length")
    transport = cycle.transport
    if transport.get_write_buffer_size() or transport.is_closing():
        await _send_read(plain, fd, offset, count)
    else:
        try:
            await _sendfile(transport, fd, offset, count)
        except (BrokenPipeError, ConnectionResetError):
            cycle.disconnected = True
            transport.close()
            return
        cycle.expected_content_length -= count
    await plain({"type": "http.response.body", "body": b"", "more_body": more_body})


async def _sendfile(transport: asyncio.Transport, fd: int, offset: int, count: int) -> None:
    """``count`` bytes of ``fd`` from ``offset`` straight to the transport's socket."""
    sock = transport.get_extra_info("socket").fileno()
    loop = asyncio.get_running_loop()
    watch = -1
    try:
        while count:
            try:
                sent = os.sendfile(sock, fd, offset, count)
            except BlockingIOError:
                sent = -1
            if sent == 0:
                raise OSError(f"file ended {count} bytes early")
            if sent > 0:
                offset += sent
                count -= sent
                continue
            if watch < 0:
                watch = os.dup(sock)
            writable = loop.create_future()
            loop.add_writer(watch, _ready, writable)
            try:
                await writable
            finally:
                loop.remove_writer(watch)
            if transport.is_closing():
                raise ConnectionResetError("the connection closed while its response was being sent")
    finally:
        if watch >= 0:
            os.close(watch)


def _ready(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _send_read(plain: Send, fd: int, offset: int, count: int) -> None:
    """The ordinary path, when the socket is not ours alone yet (the headers still queued)."""
    end = offset + count
    while offset < end:
        data = await asyncio.to_thread(os.pread, fd, min(FALLBACK_CHUNK, end - offset), offset)
        if not data:
            raise OSError(f"file ended {end - offset} bytes early")
        offset += len(data)
        await plain({"type": "http.response.body", "body": data, "more_body": True})
