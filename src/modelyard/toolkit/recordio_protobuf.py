"""``application/x-recordio-protobuf`` bodies (SageMaker's built-in algorithm format) as rows of features.

::

    body     = record*                 record = magic 0xCED7230A (LE u32) | length (LE u32, low 29 bits)
                                                | protobuf Record | padding to 4 bytes
    Record   { map<string, Value> features = 1; map<string, Value> label = 2; ... }
    Value    { Float32Tensor = 2 | Float64Tensor = 3 | Int32Tensor = 7 }   (others ignored)
    Tensor   { repeated values = 1; repeated uint64 keys = 2; repeated uint64 shape = 3 }   (packed or not)

The features and the label are the ``values`` entries: dense (no keys) or sparse (keys are column
indices, shape[0] the width). Only the protobuf wire format is read (no protobuf package needed); a
malformed body raises ValueError naming the byte offset.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

MAGIC = 0xCED7230A
LENGTH_MASK = (1 << 29) - 1
FEATURES, LABEL = 1, 2
TENSOR_FORMATS = {2: ("<f", 4), 3: ("<d", 8), 7: ("varint", 0)}
"""Value field -> (element format, element size) of Float32Tensor, Float64Tensor, Int32Tensor values."""


@dataclass
class Tensor:
    """One tensor of a Record: its values, and for a sparse one its keys and shape."""

    values: list[float] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)
    shape: list[int] = field(default_factory=list)


def records(body: bytes) -> list[bytes]:
    """The protobuf payloads of a RecordIO body."""
    out = []
    offset = 0
    while offset < len(body):
        if offset + 8 > len(body):
            raise ValueError(f"truncated RecordIO header at byte {offset}")
        magic, header = struct.unpack_from("<II", body, offset)
        if magic != MAGIC:
            raise ValueError(f"no RecordIO magic number at byte {offset}")
        if header >> 29:
            raise ValueError(f"multi-part RecordIO record at byte {offset} is not supported")
        length = header & LENGTH_MASK
        offset += 8
        if offset + length > len(body):
            raise ValueError(f"truncated RecordIO record at byte {offset}")
        out.append(body[offset:offset + length])
        offset += (length + 3) // 4 * 4
    return out


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if offset >= len(data) or shift > 63:
            raise ValueError("malformed protobuf varint")
        byte = data[offset]
        offset += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, offset
        shift += 7


def fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """``(field number, wire type, value)`` of a protobuf message (length-delimited values as bytes)."""
    out: list[tuple[int, int, int | bytes]] = []
    offset = 0
    while offset < len(data):
        tag, offset = _varint(data, offset)
        number, wire = tag >> 3, tag & 7
        value: int | bytes
        if wire == 0:
            value, offset = _varint(data, offset)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, offset = data[offset:offset + size], offset + size
        elif wire == 2:
            length, offset = _varint(data, offset)
            value, offset = data[offset:offset + length], offset + length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if offset > len(data):
            raise ValueError("truncated protobuf message")
        out.append((number, wire, value))
    return out


def _numbers(kind: int, value: int | bytes) -> list[float]:
    form, size = TENSOR_FORMATS[kind]
    if kind == 7:
        if isinstance(value, int):
            return [float(value - (1 << 64) if value >= 1 << 63 else value)]
        items, offset = [], 0
        while offset < len(value):
            number, offset = _varint(value, offset)
            items.append(float(number - (1 << 64) if number >= 1 << 63 else number))
        return items
    if not isinstance(value, bytes) or len(value) % size:
        raise ValueError("malformed tensor values")
    return [item[0] for item in struct.iter_unpack(form, value)]


def _integers(value: int | bytes) -> list[int]:
    if isinstance(value, int):
        return [value]
    items, offset = [], 0
    while offset < len(value):
        number, offset = _varint(value, offset)
        items.append(number)
    return items


def tensor(value: bytes) -> Tensor | None:
    """The tensor a ``Value`` message holds, or None for one of another kind (bytes)."""
    for kind, _, payload in fields(value):
        if kind in TENSOR_FORMATS and isinstance(payload, bytes):
            found = Tensor()
            for number, _, item in fields(payload):
                if number == 1:
                    found.values += _numbers(kind, item)
                elif number == 2:
                    found.keys += _integers(item)
                elif number == 3:
                    found.shape += _integers(item)
            return found
    return None


def _map_entry(entry: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for number, _, item in fields(entry):
        if number == 1 and isinstance(item, bytes):
            key = item.decode("utf-8", "replace")
        elif number == 2 and isinstance(item, bytes):
            value = item
    return key, value


@dataclass
class Rows:
    """The records' ``values`` features as ``{column: value}``, their labels (None where a record has none)
    and the width (the largest sparse shape or column count)."""

    features: list[dict[int, float]]
    labels: list[float | None]
    width: int


def read_rows(body: bytes) -> Rows:
    """The features and labels of every record; ValueError for a malformed body."""
    rows = Rows([], [], 0)
    for index, payload in enumerate(records(body)):
        features, label = None, None
        for number, _, item in fields(payload):
            if number in (FEATURES, LABEL) and isinstance(item, bytes):
                key, value = _map_entry(item)
                if key != "values":
                    continue
                if number == FEATURES:
                    features = tensor(value)
                else:
                    found = tensor(value)
                    label = found.values[0] if found is not None and found.values else None
        if features is None:
            raise ValueError(f"record {index} has no float32, float64 or int32 'values' features")
        if features.keys:
            if len(features.keys) != len(features.values):
                raise ValueError(f"record {index}: {len(features.keys)} keys for {len(features.values)} values")
            rows.features.append(dict(zip(features.keys, features.values, strict=True)))
            rows.width = max(rows.width, *(features.shape[:1] or [0]), max(features.keys) + 1)
        else:
            rows.features.append(dict(enumerate(features.values)))
            rows.width = max(rows.width, len(features.values))
        rows.labels.append(label)
    return rows
