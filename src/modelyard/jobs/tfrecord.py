"""TFRecord framing, as SageMaker splits it for ``SplitType=TFRecord``.

Each record is ``length (u64 LE) | masked_crc32c(length) (u32 LE) | data |
masked_crc32c(data) (u32 LE)`` and is returned with that framing. The length CRC is always
checked (cheap, and it catches misframed input at once); checking every data CRC in pure
Python costs time on large inputs, so it is optional (``verify_data``).
"""

from __future__ import annotations

import struct

from modelyard.jobs.errors import RecordFormatError

_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as TFRecord uses it."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC: rotate right by 15 and add a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def encode_tfrecord(data: bytes) -> bytes:
    """Frame ``data`` as one TFRecord."""
    length = _LENGTH.pack(len(data))
    return length + _CRC.pack(masked_crc32c(length)) + data + _CRC.pack(masked_crc32c(data))


def split_tfrecord(payload: bytes, *, verify_data: bool = False) -> list[bytes]:
    """The framed records in ``payload``, in order."""
    records: list[bytes] = []
    offset = 0
    header = _LENGTH.size + _CRC.size
    while offset < len(payload):
        if len(payload) - offset < header:
            raise RecordFormatError(f"TFRecord payload truncated inside a header at byte {offset}",
                                    offset=offset)
        length_bytes = payload[offset: offset + _LENGTH.size]
        (length,) = _LENGTH.unpack(length_bytes)
        (length_crc,) = _CRC.unpack_from(payload, offset + _LENGTH.size)
        if length_crc != masked_crc32c(length_bytes):
            raise RecordFormatError(
                f"TFRecord length checksum mismatch at byte {offset}; is the input really TFRecord? "
                "Use SplitType Line or None for other data", offset=offset)
        end = offset + header + length + _CRC.size
        if end > len(payload):
            raise RecordFormatError(f"TFRecord record at byte {offset} claims {length} bytes but the "
                                    "payload ends first", offset=offset)
        if verify_data:
            data = payload[offset + header: offset + header + length]
            (data_crc,) = _CRC.unpack_from(payload, end - _CRC.size)
            if data_crc != masked_crc32c(data):
                raise RecordFormatError(f"TFRecord data checksum mismatch in the record at byte {offset}",
                                        offset=offset)
        records.append(payload[offset:end])
        offset = end
    return records


def tfrecord_payload(record: bytes) -> bytes:
    """The data inside one framed TFRecord."""
    (length,) = _LENGTH.unpack_from(record, 0)
    start = _LENGTH.size + _CRC.size
    return record[start: start + length]
