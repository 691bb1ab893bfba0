"""The invoke path's side of data capture: a sampling decision and a bounded in-memory queue.

Runs on the event loop, so it only compares, counts and appends: a full queue (records or bytes)
drops the event and counts it; the writer thread drains the queue. Each counter has one writing
thread (``bytes_in``/``dropped`` the loop, ``bytes_out`` the writer), so no lock is needed.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable

from modelyard.hosting.capture.records import CapturedEvent


class CaptureSink:
    """Sampled events of one endpoint, waiting for its writer."""

    def __init__(self, sampling_percentage: int, max_records: int, max_bytes: int,
                 draw: Callable[[], float] = random.random) -> None:
        self.threshold = sampling_percentage / 100.0
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.draw = draw
        self.queue: deque[CapturedEvent] = deque()
        self.bytes_in = 0
        self.bytes_out = 0
        self.accepted = 0
        self.dropped = 0
        self.closed = False

    def sampled(self) -> bool:
        """Whether this invocation is captured (``InitialSamplingPercentage`` of them, at random)."""
        return self.draw() < self.threshold

    def offer(self, event: CapturedEvent) -> None:
        """Queue ``event``, or drop and count it when the queue is full or capture has stopped."""
        size = event.size
        if (self.closed or len(self.queue) >= self.max_records
                or self.bytes_in - self.bytes_out + size > self.max_bytes):
            self.dropped += 1
            return
        self.queue.append(event)
        self.bytes_in += size
        self.accepted += 1

    def take(self) -> list[CapturedEvent]:
        """Everything queued so far (the writer thread's call)."""
        taken: list[CapturedEvent] = []
        queue = self.queue
        while queue:
            event = queue.popleft()
            taken.append(event)
            self.bytes_out += event.size
        return taken
