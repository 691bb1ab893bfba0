"""Local filesystem backend: plain paths and ``file://`` URIs; every write is temp file + rename."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelyard.storage.atomic import atomic_path, write_file_atomically
from modelyard.storage.backend import ObjectInfo
from modelyard.storage.errors import ArtifactNotFoundError, StorageError
from modelyard.storage.limits import CopyLimits
from modelyard.storage.uris import Location
from modelyard.storage.walk import copy_regular_file, read_regular_file, walk_regular_files

__all__ = ["LocalBackend", "atomic_path", "local_etag", "write_file_atomically"]


def local_etag(stat: os.stat_result) -> str:
    """A change marker for a local file: modification time and size, in hex."""
    return f"{stat.st_mtime_ns:x}-{stat.st_size:x}"


class LocalBackend:
    """Reads and writes regular files under local paths, within copy limits.

    Devices, FIFOs and sockets are refused, never opened for reading; a directory listing refuses
    them and links that lead outside the listed directory.
    """

    def __init__(self, limits: CopyLimits | None = None) -> None:
        self.limits = limits or CopyLimits()

    def read_bytes(self, loc: Location) -> bytes:
        """The whole file."""
        with _errors(loc):
            return read_regular_file(loc.local_path, what=loc.uri, budget=self.limits.budget(loc.uri))

    def write_bytes(self, loc: Location, data: bytes) -> None:
        """Replace the file atomically, creating parent directories."""
        with _errors(loc):
            write_file_atomically(loc.local_path, data)

    def download(self, loc: Location, dest: Path) -> None:
        """Copy the file at ``loc`` to ``dest``."""
        with _errors(loc):
            if loc.local_path.is_dir():
                raise StorageError(f"{loc.uri} is a directory, not a file", uri=loc.uri, code="EISDIR")
            copy_regular_file(loc.local_path, dest, what=loc.uri, budget=self.limits.budget(loc.uri))

    def upload_file(self, path: Path, loc: Location) -> None:
        """Copy ``path`` to the location."""
        with _errors(loc):
            copy_regular_file(path, loc.local_path, what="the file to upload",
                              budget=self.limits.budget(loc.uri))

    def list(self, loc: Location) -> list[ObjectInfo]:
        """Every file at or below the path, sorted by key; empty if nothing is there."""
        root = loc.local_path
        with _errors(loc):
            if root.is_file():
                return [self._info(root, root.name)]
            if not root.is_dir():
                if root.exists():
                    raise StorageError(f"{loc.uri} is not a regular file or a directory", uri=loc.uri,
                                       code="SpecialFile")
                return []
            infos = [
                self._info(path, path.relative_to(root).as_posix())
                for path in walk_regular_files(root, what=loc.uri, budget=self.limits.budget(loc.uri))
            ]
        return sorted(infos, key=lambda info: info.key)

    def stat(self, loc: Location) -> ObjectInfo:
        """Size and change marker of one file."""
        with _errors(loc):
            path = loc.local_path
            if not path.is_file():
                if path.exists():
                    raise StorageError(f"{loc.uri} is not a regular file", uri=loc.uri, code="EISDIR")
                raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
            return self._info(path, path.name)

    def exists(self, loc: Location) -> bool:
        """True if a file or directory is at the path."""
        return loc.local_path.exists()

    @staticmethod
    def _info(path: Path, relative: str) -> ObjectInfo:
        stat = path.stat()
        return ObjectInfo(
            uri=path.as_uri(),
            key=path.as_posix().lstrip("/"),
            size=stat.st_size,
            etag=local_etag(stat),
            relative=relative,
        )


@contextmanager
def _errors(loc: Location) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError as exc:
        raise ArtifactNotFoundError(f"{loc.uri} does not exist", uri=loc.uri, code="ENOENT") from exc
    except StorageError:
        raise
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0, "OSError")
        raise StorageError(f"{loc.uri}: {exc.strerror or exc}", uri=loc.uri, code=code) from exc
