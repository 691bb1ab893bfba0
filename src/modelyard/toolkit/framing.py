"""The lean frame format spoken between the router and the toolkit over a unix socket.

Every message, in either direction::

    +----------------+----------------+-----------------------+------------------+
    | H: uint32 (BE) | B: uint32 (BE) | H bytes of UTF-8 JSON | B bytes raw body |
    +----------------+----------------+-----------------------+------------------+

Request header: ``{"op": "invoke" | "ping" | "execution-parameters", "content_type", "accept",
"custom_attributes", "inference_id", "target_model"}`` (strings or null), and ``"stream": true`` for
an invocation whose answer may come in parts.
Response header: ``{"status": int, "content_type", "custom_attributes"}``; for status >= 400 the
body is a UTF-8 error message. One request is in flight per connection at a time.

Several records in one frame (batch transform): the request header has ``"op": "invoke-batch"``, the
same fields as ``invoke`` (they apply to every record) and ``"lengths": [n1, n2, ...]``, the body being
the records' bodies one after another (at most ``MAX_BATCH_RECORDS``). The toolkit runs each record as
its own invocation and answers one frame: ``{"status": 200, "results": [[status, length, content_type,
custom_attributes], ...]}`` (one entry per record, in order), the body being the answers' bodies one
after another. ``split_batch`` checks lengths against a body, on either side. With ``"timeout": seconds``
in the request, a record that runs longer is answered ``{"status": 504, "timed_out": index}`` (the
record's 0-based index in the batch; the body a message) and the connection is closed.

A streamed answer is several frames: ``{"stream": "start", "status", "content_type",
"custom_attributes"}``, then ``{"stream": "part"}`` with each part as the body, then ``{"stream":
"end", "status"}`` or ``{"stream": "error", "status"}`` with the error message as the body. A
``stream`` request whose handler returns plain bytes is answered with one ordinary frame.

Pure standard library, shared by both sides: ``FrameParser`` (incremental, for protocols),
``read_frame``/``write_frame`` (asyncio streams) and the client helper ``call``.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
from itertools import accumulate
from typing import Any

PREFIX = struct.Struct(">II")
PREFIX_SIZE = PREFIX.size
MAX_HEADER_BYTES = 1 << 20
MAX_BODY_BYTES = 1 << 30

OP_INVOKE = "invoke"
OP_PING = "ping"
OP_EXECUTION_PARAMETERS = "execution-parameters"
OP_INVOKE_BATCH = "invoke-batch"
OPS = (OP_INVOKE, OP_INVOKE_BATCH, OP_PING, OP_EXECUTION_PARAMETERS)
TIMED_OUT = "timed_out"
MAX_BATCH_RECORDS = 1024
"""Records in one ``invoke-batch`` frame, at most (either side refuses more)."""

STREAM = "stream"
STREAM_START = "start"
STREAM_PART = "part"
STREAM_END = "end"
STREAM_ERROR = "error"

SMALL_BODY = 256 * 1024
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_loads = json.loads


class FrameError(ValueError):
    """A malformed frame: bad JSON header or an absurd length. The connection must be closed."""


def check_lengths(header_len: int, body_len: int) -> None:
    """Raise FrameError when a prefix announces lengths beyond the limits."""
    if header_len > MAX_HEADER_BYTES:
        raise FrameError(f"frame header of {header_len} bytes exceeds {MAX_HEADER_BYTES}")
    if body_len > MAX_BODY_BYTES:
        raise FrameError(f"frame body of {body_len} bytes exceeds {MAX_BODY_BYTES}")


DECODED_KEPT = 1024
"""Distinct small headers of scalar fields kept decoded (then the memory starts over)."""
DECODED_MAX_BYTES = 512
_SCALARS = (str, int, float, bool, type(None))
_decoded: dict[bytes, dict[str, Any]] = {}


def decode_header(raw: bytes | bytearray | memoryview) -> dict[str, Any]:
    """Parse a JSON header; it must be an object. Each call gets its own dict; a header seen before (the
    same bytes: invocations with the same content types, answers with the same status) is copied from the
    one decoded then instead of parsed again."""
    key = bytes(raw)
    known = _decoded.get(key)
    if known is not None:
        return known.copy()
    try:
        header = _loads(key.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError(f"frame header is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(header, dict):
        raise FrameError("frame header must be a JSON object")
    if len(key) <= DECODED_MAX_BYTES and all(isinstance(value, _SCALARS) for value in header.values()):
        if len(_decoded) >= DECODED_KEPT:
            _decoded.clear()
        _decoded[key] = header.copy()
    return header


def encode_header(header: dict[str, Any]) -> bytes:
    """Serialize a header to compact UTF-8 JSON."""
    return _dumps(header).encode("utf-8")


def frame_parts(header: dict[str, Any], body: bytes | bytearray | memoryview = b"") -> list[bytes]:
    """The frame as buffers to write in order (one buffer when the body is small)."""
    return raw_frame_parts(encode_header(header), body)


def raw_frame_parts(raw_header: bytes, body: bytes | bytearray | memoryview = b"") -> list[bytes]:
    """``frame_parts`` for a header already encoded."""
    head = PREFIX.pack(len(raw_header), len(body)) + raw_header
    if len(body) <= SMALL_BODY:
        return [head + bytes(body)]
    return [head, body]  # type: ignore[list-item]


def encode_frame(header: dict[str, Any], body: bytes | bytearray | memoryview = b"") -> bytes:
    """The whole frame as one bytes object."""
    return b"".join(frame_parts(header, body))


def split_batch(lengths: object, body: bytes) -> list[bytes]:
    """``body`` cut at ``lengths`` (a list of non-negative ints adding up to its size, at most
    ``MAX_BATCH_RECORDS`` of them); raises FrameError saying what is wrong otherwise."""
    if not isinstance(lengths, (list, tuple)) or not lengths:
        raise FrameError("a batch needs a non-empty list of lengths")
    if len(lengths) > MAX_BATCH_RECORDS:
        raise FrameError(f"a batch of {len(lengths)} records exceeds {MAX_BATCH_RECORDS}")
    if any(type(length) is not int for length in lengths) or min(lengths) < 0:
        wrong = next(n for n in lengths if type(n) is not int or n < 0)
        raise FrameError(f"batch length {wrong!r} is not a non-negative integer")
    ends = list(accumulate(lengths))
    if ends[-1] != len(body):
        raise FrameError(f"batch lengths add up to {ends[-1]} bytes but the body has {len(body)}")
    ends.insert(0, 0)
    return list(map(body.__getitem__, map(slice, ends, ends[1:])))


def request_header(op: str, content_type: str | None = None, accept: str | None = None,
                   custom_attributes: str | None = None, inference_id: str | None = None,
                   target_model: str | None = None) -> dict[str, Any]:
    """A request header with every field present."""
    return {"op": op, "content_type": content_type, "accept": accept,
            "custom_attributes": custom_attributes, "inference_id": inference_id,
            "target_model": target_model}


def response_header(status: int, content_type: str | None = None,
                    custom_attributes: str | None = None) -> dict[str, Any]:
    """A response header with every field present."""
    return {"status": status, "content_type": content_type, "custom_attributes": custom_attributes}


def stream_start_header(status: int, content_type: str | None, custom_attributes: str | None) -> dict[str, Any]:
    """The first frame of a streamed answer."""
    return {STREAM: STREAM_START, "status": status, "content_type": content_type,
            "custom_attributes": custom_attributes}


PART_HEADER: dict[str, Any] = {STREAM: STREAM_PART}


def stream_end_header(status: int) -> dict[str, Any]:
    """The last frame of a streamed answer: ``end``, or ``error`` (the body its message) for status >= 400."""
    return {STREAM: STREAM_END if status < 400 else STREAM_ERROR, "status": status}


class FrameParser:
    """Incremental decoder: feed bytes as they arrive, get complete ``(header, body)`` frames."""

    __slots__ = ("_buffer", "_need")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._need: tuple[int, int] | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[tuple[dict[str, Any], bytes]]:
        """Consume ``data``; return every frame now complete. Raises FrameError on a bad frame."""
        buffer = self._buffer
        if not buffer and self._need is None and len(data) >= PREFIX_SIZE:
            header_len, body_len = PREFIX.unpack_from(data)
            if len(data) == PREFIX_SIZE + header_len + body_len:
                check_lengths(header_len, body_len)
                end = PREFIX_SIZE + header_len
                return [(decode_header(data[PREFIX_SIZE:end]), data[end:])]
        buffer += data
        frames: list[tuple[dict[str, Any], bytes]] = []
        while True:
            if self._need is None:
                if len(buffer) < PREFIX_SIZE:
                    return frames
                header_len, body_len = PREFIX.unpack_from(buffer)
                check_lengths(header_len, body_len)
                self._need = (header_len, body_len)
            header_len, body_len = self._need
            total = PREFIX_SIZE + header_len + body_len
            if len(buffer) < total:
                return frames
            end = PREFIX_SIZE + header_len
            header = decode_header(buffer[PREFIX_SIZE:end])
            frames.append((header, bytes(buffer[end:total])))
            del buffer[:total]
            self._need = None


async def read_frame(reader: asyncio.StreamReader) -> tuple[dict[str, Any], bytes] | None:
    """Read one frame from a stream; None on a clean end of stream before a frame starts."""
    try:
        prefix = await reader.readexactly(PREFIX_SIZE)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise FrameError("stream ended inside a frame prefix") from None
    header_len, body_len = PREFIX.unpack(prefix)
    check_lengths(header_len, body_len)
    try:
        rest = await reader.readexactly(header_len + body_len)
    except asyncio.IncompleteReadError:
        raise FrameError("stream ended inside a frame") from None
    return decode_header(rest[:header_len]), rest[header_len:]


async def write_frame(writer: asyncio.StreamWriter, header: dict[str, Any],
                      body: bytes | bytearray | memoryview = b"") -> None:
    """Write one frame to a stream and wait until it is flushed to the transport."""
    for part in frame_parts(header, body):
        writer.write(part)
    await writer.drain()


FILE_CHUNK = 1 << 20


async def write_frame_from_file(writer: asyncio.StreamWriter, header: dict[str, Any], path: str) -> None:
    """Write one frame whose body is the file at ``path``, a megabyte at a time (never whole in memory)."""
    size = os.path.getsize(path)
    raw_header = encode_header(header)
    check_lengths(len(raw_header), size)
    writer.write(PREFIX.pack(len(raw_header), size) + raw_header)
    with open(path, "rb") as source:
        sent = 0
        while sent < size:
            chunk = await asyncio.to_thread(source.read, min(FILE_CHUNK, size - sent))
            if not chunk:
                raise OSError(f"{path} ended {size - sent} bytes early")
            sent += len(chunk)
            writer.write(chunk)
            await writer.drain()
    await writer.drain()


async def read_frame_into(reader: asyncio.StreamReader, path: str) -> dict[str, Any]:
    """Read one frame, writing its body to the file at ``path`` a megabyte at a time; its header.

    Raises ConnectionError when the peer closes the connection before the frame starts."""
    try:
        prefix = await reader.readexactly(PREFIX_SIZE)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise ConnectionResetError("connection closed before a response frame") from None
        raise FrameError("stream ended inside a frame prefix") from None
    header_len, body_len = PREFIX.unpack(prefix)
    check_lengths(header_len, body_len)
    try:
        header = decode_header(await reader.readexactly(header_len))
        with open(path, "wb") as sink:
            left = body_len
            while left:
                chunk = await reader.readexactly(min(FILE_CHUNK, left))
                left -= len(chunk)
                await asyncio.to_thread(sink.write, chunk)
    except asyncio.IncompleteReadError:
        raise FrameError("stream ended inside a frame") from None
    return header


async def call(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, header: dict[str, Any],
               body: bytes = b"") -> tuple[dict[str, Any], bytes]:
    """Send one request frame and return the response ``(header, body)``.

    Raises ConnectionError when the peer closes the connection before answering.
    """
    await write_frame(writer, header, body)
    frame = await read_frame(reader)
    if frame is None:
        raise ConnectionResetError("connection closed before a response frame")
    return frame
