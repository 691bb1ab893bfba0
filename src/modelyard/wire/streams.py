"""Bodies that are not held in memory: a request body read as it arrives, a response body sent from a file.

Only services that opt in (``edge.services.Service.streamed``: S3's PutObject and UploadPart) see a
``RequestStream``; every other request body is read whole, as before::

    RequestStream(receive, limit)  --chunks()-->  [BodyTransform.feed (aws-chunked, later)]  --> consumer
    FileBody(path, start, length)  --chunks()-->  ASGI http.response.body messages (more_body=True)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol, runtime_checkable

from modelyard.wire.asgi import BodyTooLarge, ClientDisconnected, Receive

STREAMED_BODY = "__streamed_body__"
"""The parameter under which a streamed operation's handler finds its ``RequestStream``."""

READ_CHUNK = 1 << 20


class BodyTransform(Protocol):
    """A step on the way in (the ``aws-chunked`` decoder): bytes as sent in, payload bytes out."""

    def feed(self, data: bytes) -> bytes:
        """The payload bytes ``data`` completes (may be empty); raises a ServiceError when malformed."""
        ...

    def finish(self) -> Mapping[str, str]:
        """Check the end of the body and return its trailers (lower-case names)."""
        ...


class RequestStream:
    """A request body as an async iterator of chunks, at most ``limit`` bytes, read once; ``headers``
    are the request's (lower-case names), for the consumer to read its digests from. ``transform`` is
    the seam for a body encoding (``aws-chunked``) decoded on the way in."""

    def __init__(self, receive: Receive, limit: int, headers: Mapping[str, str],
                 transform: BodyTransform | None = None) -> None:
        self._receive = receive
        self.headers = headers
        self.limit = limit
        self.transform = transform
        self.received = 0
        self.trailers: Mapping[str, str] = {}
        self._used = False
        self.complete = False
        """Whether the body was read to its end."""

    async def chunks(self) -> AsyncIterator[bytes]:
        """Each chunk as it arrives (after the transform); raises BodyTooLarge or ClientDisconnected."""
        if self._used:
            raise RuntimeError("a request body can be read only once")
        self._used = True
        transform = self.transform
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            chunk = message.get("body", b"")
            if chunk:
                self.received += len(chunk)
                if self.received > self.limit:
                    raise BodyTooLarge(self.received)
                if transform is not None:
                    chunk = transform.feed(chunk)
                if chunk:
                    yield chunk
            if not message.get("more_body"):
                self.complete = True
                if transform is not None:
                    self.trailers = transform.finish()
                return


@runtime_checkable
class StreamedBody(Protocol):
    """A response body sent chunk by chunk (a file, an event stream); ``close`` runs once it is sent or
    abandoned."""

    def chunks(self) -> AsyncIterator[bytes]:
        """The bytes, in order."""
        ...

    def close(self) -> None:
        """Release what the body holds (idempotent)."""
        ...


class FileBody:
    """``length`` bytes of an open file from ``start``, read in a worker thread a megabyte at a time.

    The descriptor is open before the response starts, so a file replaced or removed meanwhile is
    still read whole; it is closed when the body is sent or abandoned."""

    def __init__(self, fd: int, start: int, length: int) -> None:
        self.fd = fd
        self.start = start
        self.length = length

    async def chunks(self) -> AsyncIterator[bytes]:
        """The bytes, in order."""
        offset, end = self.start, self.start + self.length
        try:
            while offset < end:
                data = await asyncio.to_thread(os.pread, self.fd, min(READ_CHUNK, end - offset), offset)
                if not data:
                    raise OSError(f"file ended {end - offset} bytes early")
                offset += len(data)
                yield data
        finally:
            self.close()

    def zero_copy_message(self) -> dict[str, Any]:
        """The whole body as one ``http.response.zerocopysend`` message (the server sends the range
        from the file; the descriptor stays open until ``close``)."""
        return {"type": "http.response.zerocopysend", "file": self.fd, "offset": self.start, "count": self.length,
                "more_body": False}

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


__all__ = ["STREAMED_BODY", "BodyTooLarge", "BodyTransform", "ClientDisconnected", "FileBody", "RequestStream",
           "StreamedBody"]
