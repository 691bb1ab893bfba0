"""``Content-Encoding: aws-chunked`` bodies (SigV4 streaming), decoded and verified as they arrive.

    x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD          signed chunks
        <hex size>;chunk-signature=<64 hex>\\r\\n<data>\\r\\n … 0;chunk-signature=<sig>\\r\\n\\r\\n
    x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER  signed chunks, signed trailer
        … 0;chunk-signature=<sig>\\r\\nx-amz-checksum-crc32:<b64>\\r\\nx-amz-trailer-signature:<sig>\\r\\n\\r\\n
    x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER          plain chunks, unsigned trailer
        <hex size>\\r\\n<data>\\r\\n … 0\\r\\nx-amz-checksum-crc32:<b64>\\r\\n\\r\\n

A chunk's signature is the HMAC, under the request's signing key, of
``AWS4-HMAC-SHA256-PAYLOAD \\n <x-amz-date> \\n <scope> \\n <previous signature> \\n <sha256("")> \\n
<sha256(chunk data)>``; the first chunk's previous signature is the request's own (the seed). The
trailer's is the HMAC of ``AWS4-HMAC-SHA256-TRAILER \\n <x-amz-date> \\n <scope> \\n <final chunk's
signature> \\n <sha256 of the trailers as "name:value\\n" lines>``.

``AwsChunkedDecoder.feed`` returns the payload bytes as they arrive (memory: a header line at most,
never a whole chunk) and raises as soon as a chunk's signature or the framing is wrong;
``finish`` checks that the body was complete, its decoded length and the trailing checksum, and
returns the trailers. Bytes returned by ``feed`` are not to be trusted, stored or acted on until
``finish`` returns.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from modelyard.wire import checksums
from modelyard.wire.auth import PayloadSigning
from modelyard.wire.payload_errors import (
    SIGNATURE_MISMATCH,
    BadDigest,
    IncompleteBody,
    InvalidChunkSizeError,
    InvalidRequest,
    MalformedTrailerError,
    MissingContentLength,
    SignatureDoesNotMatch,
)

SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_MODES = frozenset({SIGNED, SIGNED_TRAILER, UNSIGNED_TRAILER})
MIN_CHUNK_BYTES = 8192
MAX_LINE_BYTES = 4096
MAX_TRAILER_BYTES = 16384
TRAILER_SIGNATURE = "x-amz-trailer-signature"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_SIGNATURE_DIGITS = frozenset("0123456789abcdef")
_HEADER, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


def is_streaming(content_sha256: str | None) -> bool:
    """Whether ``x-amz-content-sha256`` says the body is ``aws-chunked``."""
    return content_sha256 in STREAMING_MODES


def stored_content_encoding(content_encoding: str | None) -> str | None:
    """The ``Content-Encoding`` to keep with the object: the header without ``aws-chunked`` (None if
    nothing is left), as S3 stores it."""
    if content_encoding is None:
        return None
    kept = [part.strip() for part in content_encoding.split(",") if part.strip().lower() not in ("aws-chunked", "")]
    return ",".join(kept) or None


class AwsChunkedDecoder:
    """Decodes one ``aws-chunked`` body fed in pieces of any size, checking each chunk's signature as it
    ends, and at ``finish`` the decoded length, the trailer's signature and the trailing checksum.

    ``content_sha256`` is one of ``STREAMING_MODES``; ``signing`` comes from the authenticated
    ``Principal.payload`` (its ``signing_key`` None: signatures are read but not checked, as with
    ``--auth off``); ``decoded_length`` is ``x-amz-decoded-content-length`` (None: not checked);
    ``trailer`` is the ``x-amz-trailer`` header (required for the ``-TRAILER`` modes)."""

    def __init__(self, content_sha256: str, signing: PayloadSigning | None = None, *,
                 decoded_length: int | None = None, trailer: str | None = None) -> None:
        if content_sha256 not in STREAMING_MODES:
            raise InvalidRequest(f"x-amz-content-sha256 '{content_sha256[:80]}' is not an aws-chunked payload; "
                                 f"use one of {', '.join(sorted(STREAMING_MODES))}")
        self.mode = content_sha256
        self.signed = content_sha256 != UNSIGNED_TRAILER
        self.decoded_length = decoded_length
        self.expected_trailers, self.checksum = _declared_trailers(content_sha256, trailer)
        if self.signed and signing is None:
            raise ValueError(f"{content_sha256} needs the request's PayloadSigning")
        self._key = signing.signing_key if signing is not None and self.signed else None
        self._previous = signing.seed_signature if signing is not None else ""
        self._prefix = f"\n{signing.timestamp}\n{signing.scope}\n" if signing is not None else ""
        self._state = _HEADER
        self._line = bytearray()
        self._remaining = 0
        self._chunk_hash: hashlib._Hash | None = None
        self._claimed = ""
        self._last_size: int | None = None
        self._chunks = 0
        self.decoded = 0
        self._trailers: dict[str, str] = {}
        self._trailer_signature: str | None = None
        self._trailer_bytes = 0

    @classmethod
    def for_request(cls, headers: Mapping[str, str], signing: PayloadSigning | None) -> AwsChunkedDecoder:
        """The decoder for a request's lower-case ``headers``: its ``x-amz-content-sha256``,
        ``x-amz-decoded-content-length`` (required, as S3 requires it) and ``x-amz-trailer``."""
        raw_length = headers.get("x-amz-decoded-content-length")
        if raw_length is None:
            raise MissingContentLength("You must provide the x-amz-decoded-content-length header with an aws-chunked "
                                       "(STREAMING-…) payload: the length of the object before chunk encoding.")
        if not raw_length.isdigit() or not raw_length.isascii() or len(raw_length) > 19:
            raise InvalidRequest(f"x-amz-decoded-content-length must be a whole number of bytes, not "
                                 f"'{raw_length[:40]}'")
        return cls(headers.get("x-amz-content-sha256", ""), signing, decoded_length=int(raw_length),
                   trailer=headers.get("x-amz-trailer"))

    def feed(self, data: bytes) -> bytes:
        """The payload bytes that ``data`` (the next piece of the encoded body) completes."""
        if not isinstance(data, (bytes, bytearray)):
            data = bytes(data)
        view = memoryview(data)
        out: list[memoryview] = []
        pos, end = 0, len(data)
        while pos < end:
            if self._state == _DATA:
                take = min(self._remaining, end - pos)
                piece = view[pos:pos + take]
                if self._chunk_hash is not None:
                    self._chunk_hash.update(piece)
                if self.checksum is not None:
                    self.checksum.update(piece)
                out.append(piece)
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = _DATA_END
                continue
            if self._state == _DONE:
                raise IncompleteBody(f"{end - pos} bytes follow the end of the aws-chunked body (its final "
                                     "zero-length chunk and trailers); send nothing after them.")
            line, pos = self._take_line(data, pos, end)
            if line is None:
                break
            if self._state == _HEADER:
                self._chunk_header(line)
            elif self._state == _DATA_END:
                if line:
                    raise IncompleteBody(f"chunk {self._chunks} is longer than the {self._last_size} bytes its "
                                         "header declares (or its data does not end with CRLF).")
                self._chunk_done()
            else:
                self._trailer_line(line)
        return b"".join(out)

    def finish(self) -> dict[str, str]:
        """The trailers (lower-case names, the trailer signature left out), once the whole body was fed
        and everything in it checked out; raises the S3 error otherwise."""
        if self._state != _DONE:
            where = {_HEADER: "in a chunk header",
                     _DATA: f"{self._remaining} bytes short of chunk {self._chunks}'s end",
                     _DATA_END: f"before chunk {self._chunks}'s closing CRLF",
                     _TRAILER: "in the final chunk's trailers"}[self._state]
            raise IncompleteBody(f"The request body terminated unexpectedly: the aws-chunked body ended {where}, "
                                 f"after {self.decoded} payload bytes.")
        if self.decoded_length is not None and self.decoded != self.decoded_length:
            raise IncompleteBody(f"You did not provide the number of bytes specified by the "
                                 f"x-amz-decoded-content-length header: {self.decoded_length} declared, "
                                 f"{self.decoded} sent.")
        return dict(self._trailers)

    def _take_line(self, data: bytes | bytearray, pos: int, end: int) -> tuple[bytes | None, int]:
        pending = self._line
        if pending and pending[-1:] == b"\r" and data[pos:pos + 1] == b"\n":
            line = bytes(pending[:-1])
            pending.clear()
            return line, pos + 1
        limit = MAX_LINE_BYTES + 2 - len(pending)
        found = data.find(b"\r\n", pos, min(end, pos + limit))
        if found < 0:
            if len(pending) + end - pos > MAX_LINE_BYTES + 1:
                raise self._line_too_long()
            pending += data[pos:end]
            return None, end
        line = bytes(pending) + bytes(data[pos:found]) if pending else bytes(data[pos:found])
        pending.clear()
        return line, found + 2

    def _line_too_long(self) -> Exception:
        if self._state == _TRAILER:
            return MalformedTrailerError(f"A trailing header line is longer than {MAX_LINE_BYTES} bytes.")
        return IncompleteBody(f"A chunk header is longer than {MAX_LINE_BYTES} bytes or does not end with CRLF; "
                              "the body is not aws-chunked encoded.")

    def _chunk_header(self, line: bytes) -> None:
        size_part, _, extension = line.partition(b";")
        if not size_part or len(size_part) > 16 or not _HEX_DIGITS.issuperset(size_part):
            raise IncompleteBody(f"Chunk {self._chunks + 1} does not start with a hexadecimal size: "
                                 f"{line[:60]!r}; the body is not aws-chunked encoded.")
        size = int(size_part, 16)
        if self.signed:
            self._claimed = _chunk_signature(extension, self._chunks + 1)
        if size and self._last_size is not None and self._last_size < MIN_CHUNK_BYTES:
            raise InvalidChunkSizeError(f"Only the last chunk is allowed to have a size less than {MIN_CHUNK_BYTES} "
                                        f"bytes: chunk {self._chunks} has {self._last_size}.")
        if self.decoded_length is not None and self.decoded + size > self.decoded_length:
            raise IncompleteBody(f"The aws-chunked body carries more than the {self.decoded_length} bytes "
                                 "x-amz-decoded-content-length declares.")
        self._chunks += 1
        self._last_size = size
        self.decoded += size
        self._chunk_hash = hashlib.sha256() if self._key is not None else None
        if size:
            self._remaining = size
            self._state = _DATA
        else:
            self._chunk_done()
            self._state = _TRAILER

    def _chunk_done(self) -> None:
        if self._chunk_hash is not None and self._key is not None:
            digest = self._chunk_hash.hexdigest()
            to_sign = f"AWS4-HMAC-SHA256-PAYLOAD{self._prefix}{self._previous}\n{_EMPTY_SHA256}\n{digest}"
            self._previous = _check(self._key, to_sign, self._claimed, f"chunk {self._chunks}")
        else:
            self._previous = self._claimed
        self._state = _HEADER

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._end_of_body()
            return
        self._trailer_bytes += len(line) + 2
        if self._trailer_bytes > MAX_TRAILER_BYTES:
            raise MalformedTrailerError(f"The trailing headers exceed {MAX_TRAILER_BYTES} bytes.")
        text = line.decode("latin-1")
        name, colon, value = text.partition(":")
        name, value = name.strip().lower(), value.strip()
        if not colon or not name:
            raise MalformedTrailerError(f"The trailing header {text[:80]!r} is not 'name:value'.")
        if name == TRAILER_SIGNATURE and self.mode == SIGNED_TRAILER:
            self._trailer_signature = value
        elif name in self.expected_trailers and name not in self._trailers:
            self._trailers[name] = value
        else:
            declared = ", ".join(self.expected_trailers) or "none"
            raise MalformedTrailerError(f"The trailing header '{name[:80]}' was not announced in x-amz-trailer "
                                        f"(announced: {declared}) or is repeated.")

    def _end_of_body(self) -> None:
        missing = [name for name in self.expected_trailers if name not in self._trailers]
        if missing:
            raise MalformedTrailerError(f"The body ended without the trailing header {', '.join(missing)} that "
                                        "x-amz-trailer announced.")
        if self.mode == SIGNED_TRAILER:
            if self._trailer_signature is None:
                raise MalformedTrailerError(f"{SIGNED_TRAILER} needs an x-amz-trailer-signature trailing header.")
            if self._key is not None:
                canonical = "".join(f"{name}:{self._trailers[name]}\n" for name in sorted(self._trailers))
                to_sign = (f"AWS4-HMAC-SHA256-TRAILER{self._prefix}{self._previous}\n"
                           f"{hashlib.sha256(canonical.encode('latin-1')).hexdigest()}")
                _check(self._key, to_sign, self._trailer_signature, "the trailing headers")
        if self.checksum is not None:
            name = checksums.HEADER_PREFIX + self.checksum.algorithm
            sent = self._trailers[name]
            if not checksums.well_formed(self.checksum.algorithm, sent):
                raise InvalidRequest(f"Value for {name} trailing header is invalid.")
            if sent != self.checksum.b64digest():
                raise BadDigest(f"The {checksums.display_name(self.checksum.algorithm)} you specified did not match "
                                "the calculated checksum.")
        self._state = _DONE


def _declared_trailers(mode: str, trailer: str | None) -> tuple[tuple[str, ...], checksums.RunningChecksum | None]:
    names = tuple(dict.fromkeys(part.strip().lower() for part in (trailer or "").split(",") if part.strip()))
    if mode == SIGNED:
        return (), None
    if not names:
        raise InvalidRequest(f"x-amz-content-sha256 {mode} needs an x-amz-trailer header naming the trailing "
                             "checksum (e.g. x-amz-trailer: x-amz-checksum-crc32).")
    algorithms = [checksums.header_algorithm(name) for name in names]
    if len(names) > 1 or algorithms[0] not in checksums.DIGEST_SIZES:
        supported = ", ".join(checksums.HEADER_PREFIX + name for name in checksums.DIGEST_SIZES)
        raise InvalidRequest(f"x-amz-trailer must name one trailing checksum of {supported}, not "
                             f"'{(trailer or '')[:120]}'.")
    algorithm = algorithms[0]
    assert algorithm is not None
    return names, checksums.RunningChecksum(algorithm)


def _chunk_signature(extension: bytes, number: int) -> str:
    if not extension.startswith(b"chunk-signature="):
        raise IncompleteBody(f"Chunk {number} has no ';chunk-signature=<64 hex>' after its size, which a signed "
                             "aws-chunked payload needs.")
    claimed = extension[16:].decode("latin-1")
    if len(claimed) != 64 or not _SIGNATURE_DIGITS.issuperset(claimed):
        raise SignatureDoesNotMatch(f"{SIGNATURE_MISMATCH} (chunk {number}'s signature is not 64 lower-case hex "
                                    "digits)")
    return claimed


def _check(key: bytes, to_sign: str, claimed: str, what: str) -> str:
    expected = hmac.digest(key, to_sign.encode(), "sha256").hex()
    if not hmac.compare_digest(expected, claimed.encode("ascii", "replace").decode()):
        raise SignatureDoesNotMatch(f"{SIGNATURE_MISMATCH} (the signature of {what} of the aws-chunked body)")
    return expected
