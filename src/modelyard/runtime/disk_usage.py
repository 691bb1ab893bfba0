"""How much disk a container's writable host directories hold, measured by a walk that stops early.

The walk counts blocks really allocated (``st_blocks``; a sparse file counts what it holds), every
entry as a file (directories and links too), and a hard-linked file once. It stops as soon as either
budget is passed, so its cost is bounded by the budgets, not by what the container made. Each
directory is opened relative to its parent without following links, so a container that swaps a
directory for a symbolic link mid-walk cannot point the walk at host files. A tree deeper than
``MAX_DEPTH`` counts as over the limit (the walk holds one descriptor per level).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_DEPTH = 256
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class DiskUsage:
    """Bytes and entries found; ``over`` says the walk stopped because a budget was passed."""

    bytes: int
    files: int
    over: bool
    too_deep: bool = False


class _Over(Exception):
    pass


class _Walk:
    def __init__(self, max_bytes: int | None, max_files: int | None) -> None:
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.used = 0
        self.files = 0
        self.too_deep = False
        self.seen: set[tuple[int, int]] = set()

    def directory(self, fd: int, depth: int) -> None:
        for name, info in _entries(fd):
            self.files += 1
            if not stat.S_ISDIR(info.st_mode) and info.st_nlink > 1:
                key = (info.st_dev, info.st_ino)
                if key in self.seen:
                    continue
                self.seen.add(key)
            self.used += info.st_blocks * 512
            self._check()
            if stat.S_ISDIR(info.st_mode):
                self._descend(fd, name, depth + 1)

    def _descend(self, parent: int, name: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.too_deep = True
            raise _Over
        try:
            child = os.open(name, _OPEN_DIR, dir_fd=parent)
        except OSError:
            return
        try:
            self.directory(child, depth)
        finally:
            os.close(child)

    def _check(self) -> None:
        if (self.max_bytes is not None and self.used > self.max_bytes) or (
                self.max_files is not None and self.files > self.max_files):
            raise _Over


def _entries(fd: int) -> Iterator[tuple[str, os.stat_result]]:
    try:
        entries = os.scandir(fd)
    except OSError:
        return
    with entries:
        for entry in entries:
            try:
                yield entry.name, entry.stat(follow_symlinks=False)
            except OSError:
                continue


def measure(roots: Iterable[Path], *, max_bytes: int | None, max_files: int | None) -> DiskUsage:
    """Walk ``roots`` until done or over ``max_bytes`` / ``max_files`` (None: no budget)."""
    walk = _Walk(max_bytes, max_files)
    try:
        for root in roots:
            try:
                fd = os.open(root, _OPEN_DIR)
            except OSError:
                continue
            try:
                walk.directory(fd, 0)
            finally:
                os.close(fd)
    except _Over:
        return DiskUsage(walk.used, walk.files, over=True, too_deep=walk.too_deep)
    return DiskUsage(walk.used, walk.files, over=False)
