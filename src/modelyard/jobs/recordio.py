"""MXNet RecordIO framing, as SageMaker splits it for ``SplitType=RecordIO``.

Each part is ``magic (u32 LE 0xced7230a) | lrecord (u32 LE) | data | zero padding to 4 bytes``
where ``lrecord = cflag << 29 | length``. ``cflag`` 0 is a whole record; 1, 2, 3 are the first,
middle and last parts of a record split around an embedded magic number. Records are returned
with their full framing (all parts), as SageMaker sends them to the container.
"""

from __future__ import annotations

import struct

from modelyard.jobs.errors import RecordFormatError

MAGIC = 0xCED7230A
_HEADER = struct.Struct("<II")
_LENGTH_MASK = (1 << 29) - 1


def split_recordio(payload: bytes) -> list[bytes]:
    """The framed records in ``payload``, in order."""
    records: list[bytes] = []
    offset = 0
    start: int | None = None
    while offset < len(payload):
        if len(payload) - offset < _HEADER.size:
            raise RecordFormatError(f"RecordIO payload truncated inside a header at byte {offset}",
                                    offset=offset)
        magic, lrecord = _HEADER.unpack_from(payload, offset)
        if magic != MAGIC:
            raise RecordFormatError(
                f"RecordIO magic number missing at byte {offset} (found 0x{magic:08x}); is the input "
                "really RecordIO? Use SplitType Line or None for other data", offset=offset)
        cflag, length = lrecord >> 29, lrecord & _LENGTH_MASK
        end = offset + _HEADER.size + length
        padded = end + (-length % 4)
        if end > len(payload):
            raise RecordFormatError(f"RecordIO record at byte {offset} claims {length} bytes but the "
                                    "payload ends first", offset=offset)
        start = _track_parts(cflag, offset, start)
        next_offset = min(padded, len(payload))
        if cflag in (0, 3):
            records.append(payload[start:next_offset])
            start = None
        offset = next_offset
    if start is not None:
        raise RecordFormatError(f"RecordIO multi-part record starting at byte {start} has no last part",
                                offset=start)
    return records


def _track_parts(cflag: int, offset: int, start: int | None) -> int:
    if cflag in (0, 1):
        if start is not None:
            raise RecordFormatError(f"RecordIO part at byte {offset} starts a new record before the "
                                    f"record at byte {start} ended", offset=offset)
        return offset
    if cflag in (2, 3):
        if start is None:
            raise RecordFormatError(f"RecordIO continuation part at byte {offset} has no first part",
                                    offset=offset)
        return start
    raise RecordFormatError(f"RecordIO part at byte {offset} has invalid flag {cflag}", offset=offset)


def encode_recordio(data: bytes) -> bytes:
    """Frame ``data`` as one RecordIO record (single part, as SageMaker's SDK writes it)."""
    if len(data) > _LENGTH_MASK:
        raise ValueError(f"RecordIO records hold at most {_LENGTH_MASK} bytes, not {len(data)}")
    return _HEADER.pack(MAGIC, len(data)) + data + b"\x00" * (-len(data) % 4)


def recordio_payload(record: bytes) -> bytes:
    """The data inside one framed record (parts joined; the split-out magic numbers restored)."""
    chunks: list[bytes] = []
    offset = 0
    while offset < len(record):
        _, lrecord = _HEADER.unpack_from(record, offset)
        cflag, length = lrecord >> 29, lrecord & _LENGTH_MASK
        if cflag in (2, 3):
            chunks.append(struct.pack("<I", MAGIC))
        chunks.append(record[offset + _HEADER.size: offset + _HEADER.size + length])
        offset += _HEADER.size + length + (-length % 4)
    return b"".join(chunks)
