"""The digests an upload is checked against while it streams: MD5 (the ETag, and Content-MD5), the
signed SHA-256 (``x-amz-content-sha256``) and S3's flexible checksums (``x-amz-checksum-*``).

    Digests.expecting(content_md5="...", sha256_hex="...", checksums={"CRC32": "..."})
        .update(chunk) ... .verify()  -> raises BadDigest / XAmzContentSHA256Mismatch on a mismatch
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any, Protocol

from modelyard.s3.errors import BadDigest, ContentSHA256Mismatch, InvalidDigest, InvalidRequest, NotImplementedS3
from modelyard.wire.checksums import DIGEST_SIZES, RunningChecksum


class Hasher(Protocol):
    """What hashlib objects and ``wire.checksums.RunningChecksum`` share."""

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


CHECKSUM_MEMBERS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256", "SHA512", "MD5", "XXHASH64", "XXHASH3",
                    "XXHASH128")


def new_checksum(algorithm: str) -> Hasher:
    """A hasher for an S3 checksum algorithm (CRC32, CRC32C, CRC64NVME, SHA1, SHA256); NotImplemented for
    the others."""
    if algorithm.lower() not in DIGEST_SIZES:
        raise NotImplementedS3(f"modelyard's S3 does not compute {algorithm} checksums; use CRC32, CRC32C, "
                               "CRC64NVME, SHA1 or SHA256")
    return RunningChecksum(algorithm.lower())


def decode_md5(content_md5: str) -> bytes:
    """The 16 bytes of a Content-MD5 header; InvalidDigest when it is not base64 of 16 bytes."""
    try:
        raw = base64.b64decode(content_md5, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise InvalidDigest("The Content-MD5 you specified was invalid.", Content_MD5=content_md5[:64])
    return raw


def declared_checksums(params: Mapping[str, Any]) -> dict[str, str]:
    """The ``x-amz-checksum-*`` values in a request's parameters, by algorithm (``CRC32`` -> base64)."""
    return {name: str(params[f"Checksum{name}"]) for name in CHECKSUM_MEMBERS if params.get(f"Checksum{name}")}


class Digests:
    """MD5 always; SHA-256 when a hex payload hash was signed; each declared checksum."""

    def __init__(self, content_md5: str | None = None, sha256_hex: str | None = None,
                 checksums: Mapping[str, str] | None = None, algorithm: str | None = None) -> None:
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.expected_md5 = decode_md5(content_md5) if content_md5 else None
        self.sha256_hex = sha256_hex.lower() if sha256_hex else None
        self.sha256 = hashlib.sha256() if sha256_hex else None
        self.expected = dict(checksums or {})
        if len(self.expected) > 1:
            raise InvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum types are not allowed.")
        wanted = set(self.expected) | ({algorithm.upper()} if algorithm else set())
        self.checksums: dict[str, Hasher] = {name: new_checksum(name) for name in wanted}
        self.size = 0

    def update(self, data: bytes) -> None:
        """Add a chunk (hashlib releases the GIL on large chunks)."""
        self.update_md5(data)
        self.update_others(data)

    def update_md5(self, data: bytes) -> None:
        """Add a chunk to the MD5 and the size (one half of ``update``, to run beside the other)."""
        self.size += len(data)
        self.md5.update(data)

    @property
    def has_others(self) -> bool:
        """Whether anything but the MD5 is computed."""
        return self.sha256 is not None or bool(self.checksums)

    def update_others(self, data: bytes) -> None:
        """Add a chunk to the SHA-256 and the checksums (the other half of ``update``)."""
        if self.sha256 is not None:
            self.sha256.update(data)
        for hasher in self.checksums.values():
            hasher.update(data)

    def expect(self, checksums: Mapping[str, str]) -> None:
        """Checksums learnt after the body (an ``aws-chunked`` body's trailers); each must be computed."""
        for name, value in checksums.items():
            if name not in self.checksums:
                raise BadDigest(f"The {name} trailer names a checksum the request did not announce in x-amz-trailer")
            self.expected[name] = value

    def verify(self) -> None:
        """Raise the S3 error for the first digest that does not match."""
        md5 = self.md5.digest()
        if self.expected_md5 is not None and md5 != self.expected_md5:
            raise BadDigest("The Content-MD5 you specified did not match what we received.")
        if self.sha256 is not None and self.sha256.hexdigest() != self.sha256_hex:
            raise ContentSHA256Mismatch("The provided 'x-amz-content-sha256' header does not match what was computed.",
                                        ClientComputedContentSHA256=self.sha256_hex,
                                        S3ComputedContentSHA256=self.sha256.hexdigest())
        for name, value in self.expected.items():
            if base64.b64encode(self.checksums[name].digest()).decode() != value:
                raise BadDigest(f"The {name} you specified did not match the calculated checksum.")

    @property
    def etag(self) -> str:
        """The hex MD5 (S3's ETag of a single-part object)."""
        return self.md5.hexdigest()

    @property
    def md5_bytes(self) -> bytes:
        """The raw MD5."""
        return self.md5.digest()

    def checksum(self) -> tuple[str, str] | None:
        """(algorithm, base64 value) of the object's checksum, when one was asked for."""
        for name, hasher in self.checksums.items():
            return name, base64.b64encode(hasher.digest()).decode()
        return None

