"""GetLogEvents over one stream file: a page of events and the tokens around it.

CloudWatch's rules, which the SageMaker SDK's log tailing relies on:

- no token, ``start_from_head``: the oldest events in the time range; otherwise the newest.
- ``f/<o>`` reads forward from ``o``; ``b/<o>`` reads the events just before ``o``.
- events are always returned oldest first; ``nextForwardToken`` points after the last one and
  ``nextBackwardToken`` before the first. A page with no events returns the token it was given
  (so "the same forward token again" means "nothing newer yet").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from modelyard.logstore.errors import InvalidToken
from modelyard.logstore.events import MAX_RESPONSE_BYTES, Event, decode_line, timestamp_of
from modelyard.logstore.lines import Line, backward, complete_end, forward, is_line_start, seek_time
from modelyard.logstore.tokens import parse_stream_token, stream_token


@dataclass(frozen=True)
class EventPage:
    """One GetLogEvents answer."""

    events: list[Event]
    forward_token: str
    backward_token: str


@dataclass(frozen=True)
class TimeRange:
    """``start <= timestamp < end`` (either bound optional); ``ordered`` allows early stops."""

    start: int | None
    end: int | None
    ordered: bool

    def contains(self, stamp: int) -> bool:
        """Whether ``stamp`` is inside the range."""
        return (self.start is None or stamp >= self.start) and (self.end is None or stamp < self.end)

    def past_end(self, stamp: int) -> bool:
        """Whether no later line of an ordered stream can be in range."""
        return self.ordered and self.end is not None and stamp >= self.end

    def before_start(self, stamp: int) -> bool:
        """Whether no earlier line of an ordered stream can be in range."""
        return self.ordered and self.start is not None and stamp < self.start


def read_page(f: BinaryIO, span: TimeRange, *, start_from_head: bool, limit: int,
              token: str | None) -> EventPage:
    """The page of events of the stream file ``f`` that a GetLogEvents request asks for."""
    end = complete_end(f)
    if token is not None:
        direction, offset = parse_stream_token(token)
        if not is_line_start(f, offset, end):
            raise InvalidToken(token)
        if direction == "f":
            return _forward_page(f, span, offset, end, limit)
        return _backward_page(f, span, offset, limit)
    if start_from_head:
        start = seek_time(f, span.start, 0, end) if span.ordered and span.start is not None else 0
        return _forward_page(f, span, start, end, limit)
    stop = seek_time(f, span.end, 0, end) if span.ordered and span.end is not None else end
    return _backward_page(f, span, stop, limit)


def _forward_page(f: BinaryIO, span: TimeRange, start: int, end: int, limit: int) -> EventPage:
    picked = _collect(_forward_in_range(f, span, start, end), limit)
    if not picked:
        return EventPage([], stream_token("f", start), stream_token("b", start))
    return EventPage([event for _, _, event in picked], stream_token("f", picked[-1][1]),
                     stream_token("b", picked[0][0]))


def _backward_page(f: BinaryIO, span: TimeRange, stop: int, limit: int) -> EventPage:
    picked = _collect(_backward_in_range(f, span, stop), limit)
    if not picked:
        return EventPage([], stream_token("f", stop), stream_token("b", stop))
    picked.reverse()
    return EventPage([event for _, _, event in picked], stream_token("f", picked[-1][1]),
                     stream_token("b", picked[0][0]))


def _collect(lines: Iterator[Line], limit: int) -> list[tuple[int, int, Event]]:
    picked: list[tuple[int, int, Event]] = []
    budget = MAX_RESPONSE_BYTES
    for start, following, raw in lines:
        event = decode_line(raw)
        if event is None:
            continue
        budget -= len(raw)
        if budget < 0 and picked:
            break
        picked.append((start, following, event))
        if len(picked) >= limit:
            break
    return picked


def _forward_in_range(f: BinaryIO, span: TimeRange, start: int, end: int) -> Iterator[Line]:
    for line in forward(f, start, end):
        stamp = timestamp_of(line[2])
        if stamp is None:
            continue
        if span.contains(stamp):
            yield line
        elif span.past_end(stamp):
            return


def _backward_in_range(f: BinaryIO, span: TimeRange, stop: int) -> Iterator[Line]:
    for line in backward(f, stop):
        stamp = timestamp_of(line[2])
        if stamp is None:
            continue
        if span.contains(stamp):
            yield line
        elif span.before_start(stamp):
            return
