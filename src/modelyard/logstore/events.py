"""One log event, its on-disk line, and CloudWatch's size limits.

A line is ``[timestamp_ms, ingestion_ms, "message"]`` + ``\\n`` as compact JSON; newlines inside a
message are JSON-escaped, so one physical line is always one event.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

MAX_EVENT_BYTES = 262_144
EVENT_OVERHEAD_BYTES = 26
MAX_MESSAGE_BYTES = MAX_EVENT_BYTES - EVENT_OVERHEAD_BYTES
MAX_RESPONSE_BYTES = 1_048_576


@dataclass(frozen=True)
class Event:
    """A stored log event: when it happened, when it was stored, and its text."""

    timestamp: int
    ingestion_time: int
    message: str


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return int(time.time() * 1000)


def encode_line(timestamp: int, ingestion_time: int, message: str) -> bytes:
    """The stored line of an event, newline included."""
    text = json.dumps([timestamp, ingestion_time, message], ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "backslashreplace") + b"\n"


def decode_line(line: bytes) -> Event | None:
    """The event stored on ``line`` (without its newline); None for a damaged line."""
    try:
        timestamp, ingestion_time, message = json.loads(line)
        return Event(int(timestamp), int(ingestion_time), str(message))
    except (ValueError, TypeError):
        return None


def timestamp_of(line: bytes) -> int | None:
    """The event timestamp of a stored line, read without decoding the whole line."""
    comma = line.find(b",", 1, 32)
    try:
        return int(line[1:comma]) if comma > 0 else None
    except ValueError:
        return None


def split_message(text: str, limit: int = MAX_MESSAGE_BYTES) -> Iterator[str]:
    """``text`` cut into pieces of at most ``limit`` UTF-8 bytes, never inside a character."""
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= limit:
        yield text
        return
    start = 0
    while start < len(raw):
        end = min(start + limit, len(raw))
        while start < end < len(raw) and (raw[end] & 0xC0) == 0x80:
            end -= 1
        if end == start:
            end = min(start + limit, len(raw))
        yield raw[start:end].decode("utf-8", "replace")
        start = end
