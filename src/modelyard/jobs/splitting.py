"""Split a transform input object into records by ``SplitType``.

    None     -> the whole object is one record (an empty object has none)
    Line     -> one record per line, without its ``\\n`` or ``\\r\\n``; empty lines are skipped
    RecordIO -> MXNet RecordIO records, framing kept
    TFRecord -> TFRecord records, framing kept

Empty lines: SageMaker documents no record for them and containers reject empty bodies, so a
blank line (including the one a trailing newline would imply) produces no record.
"""

from __future__ import annotations

from enum import Enum

from modelyard.jobs.recordio import split_recordio
from modelyard.jobs.tfrecord import split_tfrecord


class SplitType(str, Enum):
    """``TransformInput.SplitType``."""

    NONE = "None"
    LINE = "Line"
    RECORDIO = "RecordIO"
    TFRECORD = "TFRecord"

    @classmethod
    def parse(cls, value: str | SplitType | None) -> SplitType:
        """The member for a wire value (``None``/missing means ``None``)."""
        if value is None:
            return cls.NONE
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(member.value for member in cls)
            raise ValueError(f"unknown SplitType {value!r}; expected one of {allowed}") from None


def split_lines(payload: bytes) -> list[bytes]:
    """Lines of ``payload`` without terminators, skipping empty lines."""
    lines = []
    for line in payload.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line:
            lines.append(line)
    return lines


def split_records(payload: bytes, split_type: str | SplitType | None) -> list[bytes]:
    """The records of one input object, in order."""
    kind = SplitType.parse(split_type)
    if kind is SplitType.LINE:
        return split_lines(payload)
    if kind is SplitType.RECORDIO:
        return split_recordio(payload)
    if kind is SplitType.TFRECORD:
        return split_tfrecord(payload)
    return [payload] if payload else []
