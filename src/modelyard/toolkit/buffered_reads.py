"""Socket reads into one reused buffer, for protocols written against ``data_received``.

asyncio's selector transport reads a plain protocol's data with ``recv(256 KiB)``: every read allocates a
256 KiB bytes object, which glibc serves with ``mmap``, shrinks with ``mremap`` and returns with ``munmap``
(three system calls, page faults and, in a process with a second thread, a TLB flush on the other cores)
for a request of a few hundred bytes. A ``BufferedProtocol`` is read with ``recv_into`` instead:
``BufferedReads`` gives the transport one buffer reused by every read of the loop's thread and hands
``inner.data_received`` a copy of exactly the bytes read.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

READ_BYTES = 64 * 1024
"""Bytes one read takes at most."""

_buffers = threading.local()


def _buffer() -> memoryview:
    view: memoryview | None = getattr(_buffers, "view", None)
    if view is None:
        view = _buffers.view = memoryview(bytearray(READ_BYTES))
    return view


class BufferedReads(asyncio.BufferedProtocol):
    """``inner`` (a plain protocol) read through the calling thread's reused buffer; ``closed`` (if given) is
    called after ``inner.connection_lost``."""

    def __init__(self, inner: asyncio.Protocol, closed: Callable[[], None] | None = None) -> None:
        self._inner = inner
        self._closed = closed
        self._view = _buffer()
        self._received = inner.data_received

    def get_buffer(self, sizehint: int) -> memoryview:
        """The shared buffer: its bytes are copied out in ``buffer_updated``, before any other read."""
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        """Pass the bytes just read on."""
        self._received(self._view[:nbytes].tobytes())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Pass on."""
        self._inner.connection_made(transport)

    def eof_received(self) -> bool | None:
        """Pass on."""
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        """Pass on."""
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        """Pass on."""
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        """Pass on, then report the connection closed."""
        try:
            self._inner.connection_lost(exc)
        finally:
            if self._closed is not None:
                self._closed()
