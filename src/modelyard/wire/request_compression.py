"""Request bodies compressed by the client, for operations whose model carries ``requestcompression``
(CloudWatch's PutMetricData: botocore gzips bodies of 10 KiB and more, ``Content-Encoding: gzip``).

The signature covers the compressed bytes, so this runs after authentication, at decode time; the
inflated size is bounded so that a small body cannot expand without limit.
"""

from __future__ import annotations

import zlib

from botocore.model import OperationModel

from modelyard.wire.errors import RequestTooLarge, SerializationException
from modelyard.wire.protocol import HttpRequest

MAX_INFLATED_BYTES = 16 * 1024 * 1024


def inflated(operation: OperationModel, request: HttpRequest, body: bytes,
             limit: int = MAX_INFLATED_BYTES) -> bytes:
    """The body as sent before compression (unchanged when it was not compressed)."""
    encodings = [part.strip().lower() for part in request.headers.get("content-encoding", "").split(",")
                 if part.strip()]
    if not encodings or encodings == ["identity"]:
        return body
    allowed = (operation.request_compression or {}).get("encodings", [])
    if encodings != ["gzip"] or "gzip" not in allowed:
        raise SerializationException(
            f"Content-Encoding {', '.join(encodings)} is not accepted for {operation.name}"
            + (f"; it accepts {', '.join(allowed)}" if allowed else ""))
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        text = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise SerializationException(f"The gzip-encoded request body is corrupt: {exc}") from None
    if len(text) > limit or inflater.unconsumed_tail:
        raise RequestTooLarge(f"The decompressed request body exceeds the limit of {limit} bytes")
    if not inflater.eof:
        raise SerializationException("The gzip-encoded request body is truncated")
    return text
