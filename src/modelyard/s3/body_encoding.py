"""The body encoding of an S3 upload: an ``aws-chunked`` body (declared by a ``STREAMING-…``
``x-amz-content-sha256`` or by ``Content-Encoding: aws-chunked``) is decoded and its chunk signatures,
decoded length and trailing checksum verified on the way in (``wire.aws_chunked``); any other body
reaches the handler as sent."""

from __future__ import annotations

from modelyard.wire.auth import Principal
from modelyard.wire.aws_chunked import AwsChunkedDecoder, is_streaming
from modelyard.wire.protocol import HttpRequest
from modelyard.wire.streams import BodyTransform


def body_decoder(request: HttpRequest, principal: Principal) -> BodyTransform | None:
    """The decoder an upload's body needs, or None for a body sent whole."""
    headers = request.headers
    encodings = {part.strip().lower() for part in headers.get("content-encoding", "").split(",")}
    if not is_streaming(headers.get("x-amz-content-sha256")) and "aws-chunked" not in encodings:
        return None
    return AwsChunkedDecoder.for_request(headers, principal.payload)
