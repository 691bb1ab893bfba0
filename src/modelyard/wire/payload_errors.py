"""The errors S3 answers about a request's payload: its chunk signatures, framing, length and checksums.

Codes and statuses are S3's own (``SignatureDoesNotMatch`` 403, ``IncompleteBody``, ``BadDigest``,
``InvalidRequest`` … 400, ``MissingContentLength`` 411); the S3 protocol encodes them like any
``ServiceError``.
"""

from __future__ import annotations

from modelyard.wire.errors import ServiceError

SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your "
                      "key and signing method.")


class PayloadError(ServiceError):
    """A payload S3 would refuse; ``code``, ``status`` and ``message`` as S3 answers."""


class SignatureDoesNotMatch(PayloadError):
    """A chunk's or the trailer's signature is not the one the signing key gives."""

    code = "SignatureDoesNotMatch"
    status = 403


class IncompleteBody(PayloadError):
    """The body ended early, is framed wrongly, or its length is not the one declared."""

    code = "IncompleteBody"


class InvalidChunkSizeError(PayloadError):
    """A chunk other than the last is smaller than 8 KiB."""

    code = "InvalidChunkSizeError"


class MalformedTrailerError(PayloadError):
    """Trailing headers that are not well formed or were not announced in ``x-amz-trailer``."""

    code = "MalformedTrailerError"


class BadDigest(PayloadError):
    """A checksum that does not match the data."""

    code = "BadDigest"


class InvalidRequest(PayloadError):
    """A payload header S3 cannot act on (unknown marker, unsupported trailer, malformed checksum)."""

    code = "InvalidRequest"


class MissingContentLength(PayloadError):
    """An ``aws-chunked`` body without ``x-amz-decoded-content-length``."""

    code = "MissingContentLength"
    status = 411


class XAmzContentSHA256Mismatch(PayloadError):
    """A body whose SHA-256 is not the declared ``x-amz-content-sha256``."""

    code = "XAmzContentSHA256Mismatch"
