"""Walk and copy local trees of user data: regular files only, counted against a budget.

    walk_regular_files(root)   every regular file below root, in sorted order
        device, FIFO, socket            ──► SpecialFileError (never opened, never read)
        symlink leading outside root    ──► SpecialFileError
        symlink to a directory          ──► not followed
    copy_regular_file(src, dest)        opens without following a final link and without blocking,
                                        refuses anything but a regular file, stops at the budget

Refusals name the entry by its path relative to the walked root, never by its host path.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from modelyard.storage.atomic import atomic_path
from modelyard.storage.errors import SpecialFileError
from modelyard.storage.limits import CopyBudget

CHUNK = 1024 * 1024


def file_kind(mode: int) -> str:
    """A reader's name for the type of a file mode."""
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def walk_regular_files(root: Path, *, what: str, budget: CopyBudget | None = None) -> Iterator[Path]:
    """Every regular file below ``root`` (links inside ``root`` allowed), refusing special files.

    ``what`` names the tree in refusals (a URI, or "the job's output directory").
    """
    real_root = Path(os.path.realpath(root))
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath, name)
            relative = path.relative_to(root).as_posix()
            if _is_link(path) and not _inside(Path(os.path.realpath(path)), real_root):
                raise SpecialFileError(f"{what}: {relative!r} is a symbolic link that leads outside it; "
                                       "only regular files are copied", code="SpecialFile")
            mode = _mode(path)
            if mode is None:
                continue
            if not stat.S_ISREG(mode):
                if stat.S_ISDIR(mode):
                    continue
                raise SpecialFileError(f"{what}: {relative!r} is {file_kind(mode)}; only regular files are "
                                       "copied", code="SpecialFile")
            if budget is not None:
                budget.add_file(path.stat().st_size)
            yield path


def open_regular_file(path: Path, *, what: str) -> int:
    """A read-only descriptor of ``path``; :class:`SpecialFileError` unless it is a regular file.

    Links are resolved first and the resolved path is opened without following a link, so a link
    swapped in afterwards fails; the open never blocks (a FIFO is refused, not waited on).
    """
    fd = os.open(os.path.realpath(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        code = "EISDIR" if stat.S_ISDIR(mode) else "SpecialFile"
        raise SpecialFileError(f"{what} is {file_kind(mode)}; only regular files are copied", code=code)
    return fd


def read_regular_file(path: Path, *, what: str, budget: CopyBudget | None = None) -> bytes:
    """The whole content of the regular file ``path``, counted against ``budget``."""
    chunks: list[bytes] = []
    with os.fdopen(open_regular_file(path, what=what), "rb") as source:
        while chunk := source.read(CHUNK):
            if budget is not None:
                budget.add_bytes(len(chunk))
            chunks.append(chunk)
    return b"".join(chunks)


def copy_regular_file(src: Path, dest: Path, *, what: str, budget: CopyBudget | None = None) -> None:
    """Copy the regular file ``src`` (contents and permission bits) to ``dest`` through a temporary file."""
    with os.fdopen(open_regular_file(src, what=what), "rb") as source, atomic_path(dest) as tmp:
        with open(tmp, "wb") as sink:
            while chunk := source.read(CHUNK):
                if budget is not None:
                    budget.add_bytes(len(chunk))
                sink.write(chunk)
        os.chmod(tmp, stat.S_IMODE(os.fstat(source.fileno()).st_mode))


def _is_link(path: Path) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _mode(path: Path) -> int | None:
    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        return None


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
