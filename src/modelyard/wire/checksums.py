"""S3's additional checksums (``x-amz-checksum-<algorithm>``), computed incrementally over a body.

    crc32 (4 bytes) · crc32c (4) · crc64nvme (8) · sha1 (20) · sha256 (32), sent base64-encoded

``RunningChecksum(algorithm)`` takes the body piece by piece; ``header_algorithm`` reads the algorithm
from a header name, ``well_formed`` says whether a value is base64 of the right length. CRC32C and
CRC64/NVME and CRC32 come from ``anycrc`` (C; its CRC32 is zlib's, twice as fast here); the hashes from
``hashlib``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from typing import Any

import anycrc

HEADER_PREFIX = "x-amz-checksum-"
DIGEST_SIZES = {"crc32": 4, "crc32c": 4, "crc64nvme": 8, "sha1": 20, "sha256": 32}
_CRC32C = anycrc.Model("CRC32-ISCSI")
_CRC64NVME = anycrc.Model("CRC64-NVME")
_CRC32 = anycrc.Model("CRC32")


def header_algorithm(name: str) -> str | None:
    """``x-amz-checksum-crc32`` → ``crc32``; None for any other header name (case-insensitive)."""
    lowered = name.strip().lower()
    return lowered[len(HEADER_PREFIX):] if lowered.startswith(HEADER_PREFIX) else None


def display_name(algorithm: str) -> str:
    """The algorithm as S3 names it in messages: CRC32, CRC32C, CRC64NVME, SHA1, SHA256."""
    return algorithm.upper()


def well_formed(algorithm: str, value: str) -> bool:
    """Whether ``value`` is the base64 of a digest of ``algorithm``'s size."""
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return False
    return len(raw) == DIGEST_SIZES[algorithm]


class RunningChecksum:
    """One of S3's checksums over data fed in pieces."""

    def __init__(self, algorithm: str) -> None:
        if algorithm not in DIGEST_SIZES:
            raise ValueError(f"unsupported checksum algorithm {algorithm!r}; one of {', '.join(DIGEST_SIZES)}")
        self.algorithm = algorithm
        self._crc = 0
        self._hash: Any = hashlib.new(algorithm) if algorithm.startswith("sha") else None
        self._update: Callable[[Any, int], int] | None = _CRC_UPDATES.get(algorithm)

    def update(self, data: bytes | memoryview) -> None:
        """Add the next piece of the body."""
        if self._update is not None:
            self._crc = self._update(data, self._crc)
        else:
            self._hash.update(data)

    def digest(self) -> bytes:
        """The checksum of everything fed so far, big-endian as S3 sends it."""
        if self._update is None:
            return bytes(self._hash.digest())
        return self._crc.to_bytes(DIGEST_SIZES[self.algorithm], "big")

    def b64digest(self) -> str:
        """``digest()`` base64-encoded, as in the header or trailer."""
        return base64.b64encode(self.digest()).decode("ascii")


def _crc32(data: Any, crc: int) -> int:
    return int(_CRC32.calc(data, crc))


def _crc32c(data: Any, crc: int) -> int:
    return int(_CRC32C.calc(data, crc))


def _crc64nvme(data: Any, crc: int) -> int:
    return int(_CRC64NVME.calc(data, crc))


_CRC_UPDATES: dict[str, Callable[[Any, int], int]] = {"crc32": _crc32, "crc32c": _crc32c, "crc64nvme": _crc64nvme}
