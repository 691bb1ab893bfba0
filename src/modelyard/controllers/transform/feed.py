"""The hand-off between the file reader and the request workers of a transform run.

    producer ── add(file) ──► [file 1: next piece 17 of 40] [file 2: 0 of 9] ──► take() ── workers
              wait_room() holds the producer while ``ahead`` files are waiting

Workers take pieces in input order, one at a time or a run of them (``take_run``: a batch frame),
without a queue entry (or a wake-up of the producer) per piece, which matters under SingleRecord,
where a piece is one record.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    item: T
    count: int
    next: int = 0


class PieceFeed(Generic[T]):
    """Files whose pieces are handed out one at a time, in order."""

    def __init__(self, ahead: int = 2) -> None:
        self.ahead = ahead
        self._entries: deque[_Entry[T]] = deque()
        self._closed = False
        self._available = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def add(self, item: T, count: int) -> None:
        """Offer ``count`` pieces of ``item``."""
        if count > 0:
            self._entries.append(_Entry(item, count))
            self._available.set()
            if len(self._entries) >= self.ahead:
                self._room.clear()

    def close(self) -> None:
        """No more files: workers finish once the feed is empty."""
        self._closed = True
        self._available.set()

    async def wait_room(self) -> None:
        """Return once fewer than ``ahead`` files are waiting for workers."""
        await self._room.wait()

    async def take(self) -> tuple[T, int] | None:
        """The next (item, piece index), or None once closed and empty."""
        taken = await self.take_run(1, 0, _weightless)
        return None if taken is None else (taken[0], taken[1])

    async def take_run(self, limit: int, budget: int, weigh: Callable[[T, int], int]) -> tuple[T, int, int] | None:
        """The next pieces of one item: (item, first index, count), at most ``limit`` of them whose
        ``weigh(item, index)`` add up to at most ``budget`` (the first is taken whatever it weighs);
        None once closed and empty."""
        while not self._entries:
            if self._closed:
                return None
            self._available.clear()
            await self._available.wait()
        entry = self._entries[0]
        first = entry.next
        end = min(entry.count, first + limit)
        taken = first + 1
        weight = weigh(entry.item, first)
        while taken < end:
            weight += weigh(entry.item, taken)
            if weight > budget:
                break
            taken += 1
        entry.next = taken
        if taken == entry.count:
            self._entries.popleft()
            if len(self._entries) < self.ahead:
                self._room.set()
        return entry.item, first, taken - first


def _weightless(item: object, index: int) -> int:
    return 0
