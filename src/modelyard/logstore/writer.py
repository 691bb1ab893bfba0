"""Append events to one stream file, from any number of threads.

Each batch is a single ``write`` on an ``O_APPEND`` descriptor: no user-space buffer to flush,
so a job's output is readable the moment it is written. The writer remembers the newest
timestamp; when an event goes back in time it marks the stream ``unordered`` in its metadata,
and readers then scan instead of binary-searching by time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from modelyard.logstore.events import encode_line, now_ms, split_message, timestamp_of
from modelyard.logstore.lines import backward, complete_end


class LogWriter:
    """Appends events to one log stream; thread-safe. Close it when the producer is done."""

    def __init__(self, path: Path, mark_unordered: Callable[[], None]) -> None:
        self.path = path
        self._mark_unordered = mark_unordered
        self._lock = threading.Lock()
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._newest = _newest_timestamp(path)
        self._unordered = False

    def write_line(self, text: str, timestamp_ms: int | None = None) -> None:
        """Store ``text`` as one event (several if it exceeds CloudWatch's 256 KB event limit).

        Without ``timestamp_ms`` the event is stamped under the lock, so writers sharing this
        object (a child's stdout and stderr pumps) never store time going backwards.
        """
        with self._lock:
            stamp = now_ms() if timestamp_ms is None else timestamp_ms
            self._append([(stamp, piece) for piece in split_message(text)])

    def write_events(self, events: Iterable[tuple[int, str]]) -> None:
        """Store ``(timestamp_ms, message)`` events in order, in one write."""
        with self._lock:
            self._append(events)

    def _append(self, events: Iterable[tuple[int, str]]) -> None:
        if self._fd is None:
            raise ValueError(f"log writer for {self.path.name} is closed")
        ingested = now_ms()
        data = bytearray()
        newest = self._newest
        went_back = False
        for stamp, message in events:
            if newest is not None and stamp < newest:
                went_back = True
            newest = stamp if newest is None else max(newest, stamp)
            data += encode_line(stamp, ingested, message)
        if not data:
            return
        if went_back and not self._unordered:
            self._mark_unordered()
            self._unordered = True
        _write_all(self._fd, bytes(data))
        self._newest = newest

    def close(self) -> None:
        """Release the file; later writes raise ValueError."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._fd is None

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _newest_timestamp(path: Path) -> int | None:
    with open(path, "rb") as f:
        for _, _, raw in backward(f, complete_end(f)):
            return timestamp_of(raw)
    return None
