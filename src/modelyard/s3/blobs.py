"""Object bytes as files under ``<data dir>/s3``: written to ``tmp/``, renamed into ``blobs/`` once
whole and verified, never changed after. A blob's name is a random id, not the object's key, so keys
of any length or spelling never become paths::

    <data dir>/s3/tmp/<random>.part      uploads in flight (removed at start: a killed upload leaves nothing)
    <data dir>/s3/blobs/<ab>/<abcd...>   complete bytes; the catalog row names the blob

Writes go through worker threads a megabyte at a time while the next megabyte arrives: one writes and
computes the MD5, another the signed SHA-256 and the checksum (``s3.digests``), so a 5 GB upload never
sits in memory and its hashes use two cores. A batch is the chunks as received, hashed and written one
by one (never joined into one more copy); the last batch of a body is written and hashed in one job
(one thread hand-off fewer per small object). Nothing is fsynced: a blob is durable once the kernel writes
it back, like the SQLite row (WAL, synchronous=NORMAL) that names it (README, "Durability").
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from modelyard.s3.digests import Digests
from modelyard.s3.errors import IncompleteBody

BATCH_BYTES = 1 << 20


@dataclass(frozen=True)
class TempBlob:
    """A verified upload still under ``tmp/``."""

    path: Path
    size: int


class BlobFiles:
    """The blob directory of one server."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.blobs = self.root / "blobs"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.blobs.mkdir(parents=True, exist_ok=True)

    def clean_temporary(self) -> int:
        """Remove every upload left in flight by a previous run; returns how many."""
        removed = 0
        for path in self.tmp.iterdir():
            path.unlink(missing_ok=True)
            removed += 1
        return removed

    def temporary(self) -> Path:
        """A fresh temporary file name under ``tmp/``."""
        return self.tmp / f"{secrets.token_hex(16)}.part"

    def path(self, blob: str) -> Path:
        """Where blob ``blob`` lives."""
        return self.blobs / blob[:2] / blob

    def publish(self, temp: Path) -> str:
        """Rename a complete temporary file into ``blobs/`` under a new id and return the id."""
        blob = secrets.token_hex(16)
        target = self.path(blob)
        target.parent.mkdir(exist_ok=True)
        os.replace(temp, target)
        return blob

    def remove(self, *blobs: str | None) -> None:
        """Delete blobs nobody names any more (missing ones are fine)."""
        for blob in blobs:
            if blob:
                self.path(blob).unlink(missing_ok=True)

    def open(self, blob: str) -> int:
        """A read-only descriptor of the blob (FileNotFoundError when it is gone)."""
        return os.open(self.path(blob), os.O_RDONLY | os.O_CLOEXEC)

    def concatenate(self, blobs: Iterable[str]) -> Path:
        """A temporary file holding the blobs one after another (copied in the kernel where it can)."""
        temp = self.temporary()
        try:
            with open(temp, "wb") as out:
                for blob in blobs:
                    with open(self.path(blob), "rb") as source:
                        _copy_in_kernel(source.fileno(), out.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return temp

    def copy(self, blob: str) -> Path:
        """A temporary copy of one blob."""
        temp = self.temporary()
        try:
            shutil.copyfile(self.path(blob), temp)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return temp


def _copy_in_kernel(source: int, target: int) -> None:
    """Append all of ``source`` to ``target`` with copy_file_range (falls back to read/write)."""
    start = os.lseek(target, 0, os.SEEK_CUR)
    try:
        while os.copy_file_range(source, target, 1 << 30):
            pass
    except OSError:
        os.ftruncate(target, start)
        os.lseek(target, start, os.SEEK_SET)
        os.lseek(source, 0, os.SEEK_SET)
        while data := os.read(source, 1 << 20):
            view = memoryview(data)
            while view:
                view = view[os.write(target, view):]


def _write_all(fd: int, batch: list[bytes], digests: Digests) -> None:
    for data in batch:
        digests.update_md5(data)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]


def _update_others(batch: list[bytes], digests: Digests) -> None:
    for data in batch:
        digests.update_others(data)


def _write_and_hash(fd: int, batch: list[bytes], digests: Digests) -> None:
    _write_all(fd, batch, digests)
    _update_others(batch, digests)


async def receive(chunks: AsyncIterator[bytes], files: BlobFiles, digests: Digests,
                  expected_length: int | None,
                  trailer_checksums: Callable[[], Mapping[str, str]] | None = None) -> TempBlob:
    """Stream ``chunks`` into a temporary file, hashing as it goes, then check length and digests
    (with the checksums ``trailer_checksums`` reads from the body's trailers, once it has ended).

    On any failure (a digest, a short body, a client gone) the temporary file is removed."""
    temp = files.temporary()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    loop = asyncio.get_running_loop()
    pending: list[asyncio.Future[None]] = []

    async def flush(batch: list[bytes], last: bool) -> None:
        if pending:
            await asyncio.gather(*pending)
            pending.clear()
        if last or not digests.has_others:
            pending.append(loop.run_in_executor(None, _write_and_hash, fd, batch, digests))
        else:
            pending.append(loop.run_in_executor(None, _write_all, fd, batch, digests))
            pending.append(loop.run_in_executor(None, _update_others, batch, digests))

    try:
        batch: list[bytes] = []
        size = received = 0
        async for chunk in chunks:
            batch.append(chunk)
            size += len(chunk)
            received += len(chunk)
            if size >= BATCH_BYTES:
                await flush(batch, expected_length is not None and received >= expected_length)
                batch, size = [], 0
        if batch:
            await flush(batch, True)
        if pending:
            await asyncio.gather(*pending)
            pending.clear()
        if expected_length is not None and digests.size != expected_length:
            raise IncompleteBody(f"You did not provide the number of bytes specified by the Content-Length HTTP "
                                 f"header: {digests.size} of {expected_length} received.")
        if trailer_checksums is not None:
            digests.expect(trailer_checksums())
        digests.verify()
        return TempBlob(temp, digests.size)
    except BaseException:
        if pending:
            await asyncio.wait(pending)
        temp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
