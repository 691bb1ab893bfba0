"""The on-disk log store: containers' output goes in, the CloudWatch Logs API reads it out.

    <root>/                       the server's store is split by account and region: logs/<account>/<region>/
      <encoded group>/            one directory per log group (names percent-encoded, see names.py)
        group.json                {"logGroupName", "creationTime"}
        <encoded stream>.log      append-only, one event per line: [timestamp_ms, ingestion_ms, "message"]
        <encoded stream>.meta     {"logStreamName", "creationTime", "unordered"}

Writers append whole lines with one ``write`` each, so readers running in other threads or
processes see complete events as soon as they are written; a half-written last line is ignored
until it is complete. Reads seek by byte offsets (tokens carry them), never rereading a file.
"""

from __future__ import annotations

from modelyard.logstore.errors import (
    GroupExists,
    GroupNotFound,
    InvalidToken,
    LogStoreError,
    StreamExists,
    StreamNotFound,
    UnsupportedPattern,
)
from modelyard.logstore.events import MAX_EVENT_BYTES, MAX_MESSAGE_BYTES, Event, split_message
from modelyard.logstore.filtering import FilteredEvent, FilterPage
from modelyard.logstore.pump import pump
from modelyard.logstore.reading import EventPage
from modelyard.logstore.store import GroupInfo, LogStore, StreamInfo
from modelyard.logstore.writer import LogWriter

__all__ = [
    "MAX_EVENT_BYTES",
    "MAX_MESSAGE_BYTES",
    "Event",
    "EventPage",
    "FilterPage",
    "FilteredEvent",
    "GroupExists",
    "GroupInfo",
    "GroupNotFound",
    "InvalidToken",
    "LogStore",
    "LogStoreError",
    "LogWriter",
    "StreamExists",
    "StreamInfo",
    "StreamNotFound",
    "UnsupportedPattern",
    "pump",
    "split_message",
]
