"""Local filesystem backend: plain paths and ``file://`` URIs; every write is temp file + rename."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelyard.storage.backend import ObjectInfo
from modelyard.storage.errors import ArtifactNotFoundError, StorageError
from modelyard.storage.uris import Location


@contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; it replaces ``dest`` only if the block succeeds."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def write_file_atomically(dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` so that readers see the old file or the whole new one."""
    with atomic_path(dest) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def copy_file_atomically(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` (contents and mode) through a temporary file."""
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
        shutil.copymode(src, tmp)


def local_etag(stat: os.stat_result) -> str:
    """A change marker for a local file: modification time and size, in hex."""
    return f"{stat.st_mtime_ns:x}-{stat.st_size:x}"


class LocalBackend:
    """Reads and writes files under local paths."""

    def read_bytes(self, loc: Location) -> bytes:
        """The whole file."""
        with _errors(loc):
            return loc.local_path.read_bytes()

    def write_bytes(self, loc: Location, data: bytes) -> None:
        """Replace the file atomically, creating parent directories."""
        with _errors(loc):
            write_file_atomically(loc.local_path, data)

    def download(self, loc: Location, dest: Path) -> None:
        """Copy the file at ``loc`` to ``dest``."""
        with _errors(loc):
            src = loc.local_path
            if src.is_dir():
                raise StorageError(f"{loc.uri} is a directory, not a file", uri=loc.uri, code="EISDIR")
            copy_file_atomically(src, dest)

    def upload_file(self, path: Path, loc: Location) -> None:
        """Copy ``path`` to the location."""
        with _errors(loc):
            copy_file_atomically(path, loc.local_path)

    def list(self, loc: Location) -> list[ObjectInfo]:
        """Every file at or below the path, sorted by key; empty if nothing is there."""
        root = loc.local_path
        with _errors(loc):
            if root.is_file():
                return [self._info(root, root.name)]
            if not root.is_dir():
                return []
            infos = [
                self._info(path, path.relative_to(root).as_posix())
                for path in _walk_files(root)
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


def _walk_files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if path.is_file():
                yield path


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
