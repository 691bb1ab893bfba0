"""FilterLogEvents: events of many streams, merged by time, matched against a pattern.

Each stream is read forward by a cursor from its token offset (or from the start time); a heap
merges the cursors' heads oldest first. A page ends at the event limit, at 1 MB, or when
``SCAN_BUDGET`` lines were read; the token then holds every cursor's offset. Events are only
emitted while every cursor is settled (knows its next event), so the order holds across pages,
and every page reads at least one new line, so paging always finishes.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from modelyard.logstore.events import MAX_RESPONSE_BYTES, decode_line, timestamp_of
from modelyard.logstore.lines import Line, forward
from modelyard.logstore.patterns import Matcher
from modelyard.logstore.reading import TimeRange
from modelyard.logstore.tokens import filter_token

SCAN_BUDGET = 250_000


@dataclass(frozen=True)
class FilteredEvent:
    """A matching event and the stream it came from."""

    stream: str
    timestamp: int
    ingestion_time: int
    message: str
    event_id: str


@dataclass(frozen=True)
class FilterPage:
    """One FilterLogEvents answer; ``next_token`` is None when every stream was searched to its end."""

    events: list[FilteredEvent]
    next_token: str | None
    searched: dict[str, bool]


class Budget:
    """Lines a page may still read."""

    def __init__(self, lines: int) -> None:
        self.left = lines

    def spend(self) -> None:
        """Count one line read."""
        self.left -= 1

    @property
    def exhausted(self) -> bool:
        """Whether the page must stop."""
        return self.left <= 0


class Cursor:
    """One stream's read position: the head (next in-range event) or the next unread offset."""

    def __init__(self, name: str, f: BinaryIO, span: TimeRange, start: int, end: int, budget: Budget) -> None:
        self.name = name
        self.span = span
        self.budget = budget
        self.position = start
        self.end = end
        self.head: Line | None = None
        self.done = False
        self._lines: Iterator[Line] = forward(f, start, end)

    @property
    def settled(self) -> bool:
        """Whether the cursor knows its next event (or that it has none): not stopped by the budget."""
        return self.head is not None or self.done

    def advance(self) -> None:
        """Consume the head and find the next in-range line, reading at least one line.

        Stops early, unsettled, when the page's budget runs out."""
        if self.head is not None:
            self.position = self.head[1]
            self.head = None
        scanned = 0
        while not (scanned and self.budget.exhausted):
            line = next(self._lines, None)
            if line is None:
                self.done, self.position = True, self.end
                return
            scanned += 1
            self.budget.spend()
            stamp = timestamp_of(line[2])
            if stamp is not None and self.span.contains(stamp):
                self.head = line
                return
            if stamp is not None and self.span.past_end(stamp):
                self.done = True
                return
            self.position = line[1]


def merge(cursors: list[Cursor], match: Matcher, limit: int, budget: Budget) -> FilterPage:
    """Merge the cursors' events by time into one page."""
    for cursor in cursors:
        cursor.advance()
    settled = all(c.settled for c in cursors)
    heap = [(_stamp(c), index, c) for index, c in enumerate(cursors) if c.head is not None] if settled else []
    heapq.heapify(heap)
    events: list[FilteredEvent] = []
    size = 0
    consumed = 0
    while heap and len(events) < limit and not (consumed and budget.exhausted):
        _, index, cursor = heap[0]
        assert cursor.head is not None
        start, _, raw = cursor.head
        event = decode_line(raw)
        if event is not None and match(event.message):
            if size + len(raw) > MAX_RESPONSE_BYTES and events:
                break
            size += len(raw)
            events.append(FilteredEvent(cursor.name, event.timestamp, event.ingestion_time, event.message,
                                        _event_id(cursor.name, event.timestamp, start)))
        cursor.advance()
        consumed += 1
        if not cursor.settled:
            break
        if cursor.head is None:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (_stamp(cursor), index, cursor))
    finished = all(c.done for c in cursors)
    token = None if finished else filter_token({c.name: c.position for c in cursors})
    return FilterPage(events, token, {c.name: c.done for c in cursors})


def _stamp(cursor: Cursor) -> int:
    assert cursor.head is not None
    return timestamp_of(cursor.head[2]) or 0


def _event_id(stream: str, stamp: int, offset: int) -> str:
    return f"{stamp:016d}{zlib.crc32(stream.encode('utf-8', 'surrogatepass')):010d}{offset:020d}"
