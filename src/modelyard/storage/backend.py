"""What every storage backend offers, and the object listing record they share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from modelyard.storage.uris import Location


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object.

    ``key`` is the S3 key (or, for local files, the absolute POSIX path without its leading
    ``/``); ``relative`` is the rest of the key after the listed prefix, without a leading
    ``/`` (for a local directory: the path below it; for a single object: its name); ``etag``
    is S3's ETag without quotes, or ``<mtime_ns>-<size>`` in hex for local files.
    """

    uri: str
    key: str
    size: int
    etag: str
    relative: str = ""
    content_type: str | None = None
    """The object's Content-Type, where ``stat`` knows it (S3 objects)."""


class Backend(Protocol):
    """Operations the :class:`~modelyard.storage.objects.ObjectStore` dispatches by scheme."""

    def read_bytes(self, loc: Location) -> bytes: ...

    def write_bytes(self, loc: Location, data: bytes) -> None: ...

    def download(self, loc: Location, dest: Path) -> None: ...

    def upload_file(self, path: Path, loc: Location) -> None: ...

    def list(self, loc: Location) -> list[ObjectInfo]: ...

    def stat(self, loc: Location) -> ObjectInfo: ...

    def exists(self, loc: Location) -> bool: ...
