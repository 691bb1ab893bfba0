"""AWS event stream messages (``application/vnd.amazon.eventstream``), the framing botocore decodes into
the events of an ``eventstream`` output member (sagemaker-runtime's ``PayloadPart``)::

    total length u32 | headers length u32 | prelude CRC32 | headers | payload | message CRC32

Each header: name length u8, name, value type u8 (7: string), value length u16, value (all big-endian).
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7
_PRELUDE = struct.Struct(">II")


def _headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack(">B", len(raw_name)) + raw_name + struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


def message(headers: dict[str, str], payload: bytes) -> bytes:
    """One encoded message."""
    raw_headers = _headers(headers)
    total = _PRELUDE.size + 4 + len(raw_headers) + len(payload) + 4
    prelude = _PRELUDE.pack(total, len(raw_headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + raw_headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event(event_type: str, payload: bytes, content_type: str = "application/octet-stream") -> bytes:
    """An event of type ``event_type`` (``PayloadPart``) whose payload member is ``payload``."""
    return message({":event-type": event_type, ":content-type": content_type, ":message-type": "event"}, payload)


def exception(exception_type: str, members: dict[str, Any]) -> bytes:
    """A modeled exception of the stream (``ModelStreamError``, ``InternalStreamFailure``)."""
    return message({":exception-type": exception_type, ":content-type": "application/json",
                    ":message-type": "exception"}, json.dumps(members).encode())
