"""Group records into request bodies by ``BatchStrategy`` and ``MaxPayloadInMB``.

    SingleRecord: [r0] [r1] [r2] ...          one record per request
    MultiRecord : [r0 r1 r2] [r3 r4] ...       as many records as fit, in order

Line records are joined with ``\\n`` (no trailing newline); RecordIO/TFRecord records (and
unsplit objects) are concatenated. ``MaxPayloadInMB=0`` means no limit (one request per
object under MultiRecord).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from modelyard.jobs.errors import RecordTooLargeError
from modelyard.jobs.splitting import SplitType

MIB = 1024 * 1024
DEFAULT_MAX_PAYLOAD_IN_MB = 6


class BatchStrategy(str, Enum):
    """``CreateTransformJob.BatchStrategy``."""

    SINGLE_RECORD = "SingleRecord"
    MULTI_RECORD = "MultiRecord"

    @classmethod
    def parse(cls, value: str | BatchStrategy | None) -> BatchStrategy:
        """The member for a wire value (missing means ``MultiRecord``, SageMaker's default)."""
        if value is None:
            return cls.MULTI_RECORD
        try:
            return cls(value)
        except ValueError:
            raise ValueError(
                f"unknown BatchStrategy {value!r}; expected SingleRecord or MultiRecord") from None


@dataclass(frozen=True)
class Batch:
    """One request: the records ``start .. start+len(records)-1`` and the body sent."""

    start: int
    records: tuple[bytes, ...]
    body: bytes

    @property
    def indexes(self) -> range:
        """Indexes (in the input object) of the records in this batch."""
        return range(self.start, self.start + len(self.records))


def payload_limit(max_payload_in_mb: int | None) -> int | None:
    """Bytes allowed per request (``None`` for no limit); default 6 MB, ``0`` means none."""
    mb = DEFAULT_MAX_PAYLOAD_IN_MB if max_payload_in_mb is None else max_payload_in_mb
    if mb < 0:
        raise ValueError(f"MaxPayloadInMB must be 0 or more, not {mb}")
    return mb * MIB if mb else None


def separator(split_type: str | SplitType | None) -> bytes:
    """What goes between records in one request body."""
    return b"\n" if SplitType.parse(split_type) is SplitType.LINE else b""


def join_records(records: Sequence[bytes], split_type: str | SplitType | None) -> bytes:
    """The request body for ``records``."""
    return separator(split_type).join(records)


def make_batches(records: Sequence[bytes], split_type: str | SplitType | None,
                 strategy: str | BatchStrategy | None, limit: int | None) -> list[Batch]:
    """Request bodies for ``records``; raises :class:`RecordTooLargeError` for an oversize record."""
    sep = separator(split_type)
    for index, record in enumerate(records):
        if limit is not None and len(record) > limit:
            raise RecordTooLargeError(index=index, size=len(record), limit=limit)
    if BatchStrategy.parse(strategy) is BatchStrategy.SINGLE_RECORD:
        return [Batch(index, (record,), record) for index, record in enumerate(records)]
    batches: list[Batch] = []
    current: list[bytes] = []
    start, size = 0, 0
    for index, record in enumerate(records):
        added = len(record) + (len(sep) if current else 0)
        if current and limit is not None and size + added > limit:
            batches.append(Batch(start, tuple(current), sep.join(current)))
            start, current, size = index, [], 0
            added = len(record)
        current.append(record)
        size += added
    if current:
        batches.append(Batch(start, tuple(current), sep.join(current)))
    return batches
