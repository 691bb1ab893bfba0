"""One input object of a transform job, from bytes to its ``.out`` bytes (no I/O, no containers).

    object bytes ─gunzip?─► split ─InputFilter─► pieces (request bodies) ──► model
    .out bytes ◄─ assemble in input order ◄─ JoinSource / OutputFilter ◄─ one reply per piece

``FileWork`` holds one object's pieces and collects replies in any order; ``result()`` assembles
them in input order once every piece has answered. Under MultiRecord with a plain Line split and
no DataProcessing, pieces are cut straight out of the object's bytes (``line_pieces``), so a large
file costs a few ``rfind`` calls instead of a Python loop per record.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from itertools import repeat

from modelyard.jobs import (
    AssembleWith,
    BatchStrategy,
    DataProcessingError,
    RecordFormatError,
    RecordProcessor,
    RecordTooLargeError,
    SplitType,
    assemble,
    make_batches,
    split_records,
)


class FileFailed(Exception):
    """This input object cannot be transformed; the message says why (without the object's URI)."""


@dataclass(frozen=True)
class TransformSpec:
    """The data-path settings of one job, resolved (execution parameters applied)."""

    split_type: SplitType
    strategy: BatchStrategy
    payload_limit: int | None
    assemble_with: AssembleWith
    processor: RecordProcessor
    gzip: bool = False


class Piece:
    """One request: records ``start .. start+count-1`` of the object, and the body sent (a slotted class, not
    a frozen dataclass, which costs several times more to make: a job may have millions, one per record
    under SingleRecord)."""

    __slots__ = ("start", "count", "body")

    def __init__(self, start: int, count: int, body: bytes) -> None:
        self.start = start
        self.count = count
        self.body = body

    def __repr__(self) -> str:
        return f"Piece({self.start}, {self.count}, {self.body[:40]!r})"


def line_pieces(payload: bytes, limit: int | None) -> list[Piece] | None:
    """MultiRecord Line pieces cut from ``payload`` (same result as split + make_batches), or None
    when the payload has blank lines or carriage returns and needs the general path."""
    if b"\r" in payload or b"\n\n" in payload or payload.startswith(b"\n"):
        return None
    end = len(payload) - 1 if payload.endswith(b"\n") else len(payload)
    pieces: list[Piece] = []
    pos, index = 0, 0
    while pos < end:
        if limit is None or end - pos <= limit:
            cut = end
        else:
            cut = payload.rfind(b"\n", pos, pos + limit + 1)
            if cut <= pos:
                following = payload.find(b"\n", pos, end)
                size = (end if following < 0 else following) - pos
                raise RecordTooLargeError(index=index, size=size, limit=limit)
        body = payload[pos:cut]
        count = body.count(b"\n") + 1
        pieces.append(Piece(index, count, body))
        index += count
        pos = cut + 1
    return pieces


@dataclass
class FileWork:
    """One input object in flight: its pieces, the raw records a join needs, and the replies so far."""

    spec: TransformSpec
    pieces: list[Piece]
    records: list[bytes] | None
    outputs: list[bytes | None] = field(init=False)
    remaining: int = field(init=False)
    _by_line: bool = field(init=False)
    failure: str | None = None

    def __post_init__(self) -> None:
        self.outputs = [None] * len(self.pieces)
        self.remaining = len(self.pieces)
        self._by_line = self.spec.assemble_with is AssembleWith.LINE
        """``assemble_chunk``'s rule, decided once."""

    @property
    def done(self) -> bool:
        """True once every piece has answered (or the file failed)."""
        return self.remaining == 0 or self.failure is not None

    def accept_run(self, first: int, replies: list[bytes]) -> None:
        """Record the replies of pieces ``first, first+1, ...``; raises FileFailed as ``accept`` does."""
        if self.records is not None:
            for index, reply in enumerate(replies, first):
                self.accept(index, reply)
            return
        if self._by_line:
            replies = [reply if reply.endswith(b"\n") else reply + b"\n" for reply in replies]
        self.outputs[first:first + len(replies)] = replies
        self.remaining -= len(replies)

    def accept(self, index: int, reply: bytes) -> None:
        """Record piece ``index``'s reply; raises FileFailed when it cannot be mapped to its records."""
        piece = self.pieces[index]
        processor = self.spec.processor
        if self.records is None:
            if self._by_line and not reply.endswith(b"\n"):
                reply += b"\n"
            self.outputs[index] = reply
        else:
            try:
                outputs = processor.split_outputs(reply, piece.count)
                finished = [processor.finish(self.records[piece.start + i], out) for i, out in enumerate(outputs)]
            except DataProcessingError as exc:
                raise FileFailed(f"{describe_records(piece)}: {exc}") from None
            self.outputs[index] = assemble(finished, self.spec.assemble_with)
        self.remaining -= 1

    def result(self) -> bytes:
        """The assembled ``.out`` content, in input order."""
        return b"".join(output or b"" for output in self.outputs)


def describe_records(piece: Piece) -> str:
    """``record 3`` or ``records 3-7`` (1-based, in the input object)."""
    if piece.count == 1:
        return f"record {piece.start + 1}"
    return f"records {piece.start + 1}-{piece.start + piece.count}"


def describe_pieces(pieces: list[Piece]) -> str:
    """The records of consecutive ``pieces``, as ``describe_records`` words them."""
    first, last = pieces[0], pieces[-1]
    return describe_records(Piece(first.start, last.start + last.count - first.start, b""))


def plan_file(data: bytes, spec: TransformSpec) -> FileWork:
    """Split, filter and batch one object; raises FileFailed for bad input."""
    if spec.gzip:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise FileFailed(f"CompressionType is Gzip but the object is not gzip data ({exc})") from None
    processor = spec.processor
    per_record = processor.processing.per_record_outputs
    try:
        if (spec.split_type is SplitType.LINE and spec.strategy is BatchStrategy.MULTI_RECORD
                and processor.processing.is_identity):
            pieces = line_pieces(data, spec.payload_limit)
            if pieces is not None:
                return FileWork(spec, pieces, None)
        records = split_records(data, spec.split_type)
        sent = records if processor.processing.input_filter.is_root else [
            _filtered(processor, record, index) for index, record in enumerate(records)]
        if spec.strategy is BatchStrategy.SINGLE_RECORD:
            pieces = single_pieces(sent, spec.payload_limit)
        else:
            batches = make_batches(sent, spec.split_type, spec.strategy, spec.payload_limit)
            pieces = [Piece(b.start, len(b.records), b.body) for b in batches]
    except RecordTooLargeError as exc:
        raise FileFailed(f"record {exc.index + 1} is {exc.size} bytes, more than MaxPayloadInMB allows "
                         f"({exc.limit} bytes)") from None
    except RecordFormatError as exc:
        raise FileFailed(f"the object is not valid {spec.split_type.value} data: {exc}") from None
    return FileWork(spec, pieces, records if per_record else None)


def single_pieces(records: list[bytes], limit: int | None) -> list[Piece]:
    """One piece per record (what ``make_batches`` gives under SingleRecord, without a Batch each);
    raises RecordTooLargeError for the first record over ``limit``."""
    if limit is not None and records and max(map(len, records)) > limit:
        index = next(i for i, record in enumerate(records) if len(record) > limit)
        raise RecordTooLargeError(index=index, size=len(records[index]), limit=limit)
    return list(map(Piece, range(len(records)), repeat(1), records))


def _filtered(processor: RecordProcessor, record: bytes, index: int) -> bytes:
    try:
        return processor.filter_input(record)
    except DataProcessingError as exc:
        raise FileFailed(f"record {index + 1}: InputFilter: {exc}") from None
