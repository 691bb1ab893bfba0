"""Safe tar extraction and deterministic packing (SageMaker's ``model.tar.gz`` layout).

``safe_extract`` checks every member before anything is written: absolute names, ``..``
components, links that leave the target, members below a link, and device/FIFO members are
refused with :class:`UnsafeArchiveError` naming the member. Members are read one header at a
time and counted against the copy limits (total size, member count, expansion ratio over the
archive's own size), so a tar bomb is refused at the header that crosses a limit, before its data
is written.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
from pathlib import Path

from modelyard.storage.atomic import atomic_path
from modelyard.storage.errors import ArtifactNotFoundError, CopyLimitError, InvalidArchiveError, UnsafeArchiveError
from modelyard.storage.limits import CopyLimits

_FILTER_ERRORS: tuple[type[Exception], ...] = (tarfile.FilterError,) if hasattr(tarfile, "FilterError") else ()
"""What PEP 706's ``data`` filter raises; nothing on a Python before 3.11.4, which has no filters."""


def safe_extract(tar_path: Path, dest: Path, limits: CopyLimits | None = None, *, name: str | None = None) -> Path:
    """Extract a ``.tar`` or ``.tar.gz`` (detected from content) into ``dest``; returns ``dest``.

    ``name`` stands for the archive in messages (default: its path).
    """
    tar_path = Path(tar_path)
    label = name or str(tar_path)
    dest = Path(dest)
    try:
        archive = tarfile.open(tar_path, mode="r:*")  # noqa: SIM115 - closed by the `with` below
    except FileNotFoundError as exc:
        raise ArtifactNotFoundError(f"archive {label} does not exist", uri=label,
                                    code="ENOENT") from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InvalidArchiveError(f"{label} is not a readable .tar or .tar.gz archive: {exc}",
                                  uri=str(tar_path)) from exc
    with archive:
        try:
            members = _counted_members(archive, limits or CopyLimits(), tar_path.stat().st_size, label)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise InvalidArchiveError(f"{label} is a corrupt archive: {exc}", uri=label) from exc
        members = [member for member in members if not is_root_entry(member)]
        try:
            extract_checked(archive, dest, members, archive_name=label)
        except _FILTER_ERRORS as exc:
            raise UnsafeArchiveError(f"unsafe member in {label}: {exc}", member=str(exc), uri=label) from exc
        except (tarfile.TarError, EOFError) as exc:
            raise InvalidArchiveError(f"{label} is a corrupt archive: {exc}", uri=label) from exc
    return dest


def extract_checked(archive: tarfile.TarFile, dest: Path, members: list[tarfile.TarInfo], *,
                    archive_name: str) -> None:
    """Extract ``members`` into ``dest`` once every one passes ``check_members``, through PEP 706's ``data``
    filter where this Python has it (before 3.11.4, e.g. Debian 12's 3.11.2, it has none: the checks guard
    alone)."""
    check_members(members, archive_name=archive_name)
    dest.mkdir(parents=True, exist_ok=True)
    if hasattr(tarfile, "data_filter"):
        archive.extractall(dest, members=members, filter="data")
    else:
        archive.extractall(dest, members=members)  # noqa: S202 - every member was checked just above


def _counted_members(archive: tarfile.TarFile, limits: CopyLimits, archive_bytes: int,
                     label: str) -> list[tarfile.TarInfo]:
    members: list[tarfile.TarInfo] = []
    total = 0
    while (member := archive.next()) is not None:
        members.append(member)
        total += max(member.size, 0)
        if len(members) > limits.max_files:
            raise CopyLimitError(f"{label} holds more than {limits.max_files} members, the limit for one "
                                 "copy (MODELYARD_COPY_MAX_FILES)", uri=label, code="CopyLimitExceeded")
        if total > limits.max_bytes:
            raise CopyLimitError(f"{label} expands to more than {limits.max_bytes} bytes, the limit for "
                                 "one copy (MODELYARD_COPY_MAX_BYTES)", uri=label, code="CopyLimitExceeded")
        if total > limits.tar_ratio_floor_bytes and total > limits.tar_max_ratio * max(archive_bytes, 1):
            raise CopyLimitError(f"{label} expands more than {limits.tar_max_ratio:g} times its own size "
                                 f"(over {total} bytes from {archive_bytes}); refusing it as a tar bomb "
                                 "(MODELYARD_TAR_MAX_RATIO)", uri=label, code="CopyLimitExceeded")
    return members


def is_root_entry(member: tarfile.TarInfo) -> bool:
    """True for a directory entry naming the archive root itself.

    The sagemaker SDK's repack writes one (``tar.add(model_dir, arcname="/")`` stores a directory
    named ``""``), as ``tar -C dir -czf x.tar.gz .`` stores ``.``; both are the target directory.
    """
    return member.isdir() and member.name.strip("/") in ("", ".")


def check_members(members: list[tarfile.TarInfo], *, archive_name: str = "archive") -> None:
    """Raise :class:`UnsafeArchiveError` for the first member that is not safe to extract."""
    links: set[str] = set()
    for member in members:
        name = _checked_name(member, archive_name)
        _refuse_below_link(member, name, links, archive_name)
        if member.ischr() or member.isblk() or member.isfifo():
            kind = "FIFO" if member.isfifo() else "device"
            _refuse(member, archive_name, f"is a {kind}")
        if member.issym() or member.islnk():
            _check_link(member, name, archive_name)
            links.add(name)
        elif not (member.isfile() or member.isdir()):
            _refuse(member, archive_name, f"has unsupported type {member.type!r}")


def pack_dir(src_dir: Path, tar_gz_path: Path) -> Path:
    """Pack ``src_dir``'s contents into ``tar_gz_path`` with names relative to ``src_dir``.

    Members come in sorted order (directories before their contents), owners are reset to
    root, and the archive is written through a temporary file.
    """
    src_dir = Path(src_dir)
    tar_gz_path = Path(tar_gz_path)
    if not src_dir.is_dir():
        raise ArtifactNotFoundError(f"cannot pack {src_dir}: not a directory", uri=str(src_dir),
                                    code="ENOENT")
    entries = _sorted_entries(src_dir, exclude=tar_gz_path.resolve())
    with atomic_path(tar_gz_path) as tmp, tarfile.open(tmp, mode="w:gz") as archive:
        for path in entries:
            archive.add(path, arcname=path.relative_to(src_dir).as_posix(), recursive=False,
                        filter=_reset_owner)
    return tar_gz_path


def _sorted_entries(src_dir: Path, exclude: Path) -> list[Path]:
    entries: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(src_dir):
        dirnames.sort()
        base = Path(dirpath)
        names = sorted(dirnames + filenames)
        for name in names:
            path = base / name
            if path.resolve() == exclude or name.startswith(f".{exclude.name}."):
                continue
            entries.append(path)
    return sorted(entries, key=lambda p: p.relative_to(src_dir).parts)


def _reset_owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _checked_name(member: tarfile.TarInfo, archive_name: str) -> str:
    name = member.name
    if not name or "\x00" in name:
        _refuse(member, archive_name, "has an empty or NUL-containing name")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        _refuse(member, archive_name, "has an absolute path")
    if ".." in name.replace("\\", "/").split("/"):
        _refuse(member, archive_name, "contains a '..' path component")
    return posixpath.normpath(name)


def _refuse_below_link(member: tarfile.TarInfo, name: str, links: set[str], archive_name: str) -> None:
    parent = posixpath.dirname(name)
    while parent not in ("", "."):
        if parent in links:
            _refuse(member, archive_name, f"lies below the link {parent!r}")
        parent = posixpath.dirname(parent)


def _check_link(member: tarfile.TarInfo, name: str, archive_name: str) -> None:
    kind = "symlink" if member.issym() else "hard link"
    base = posixpath.dirname(name) if member.issym() else ""
    target = posixpath.normpath(posixpath.join(base, member.linkname))
    if member.linkname.startswith("/") or _escapes(target):
        _refuse(member, archive_name, f"is a {kind} pointing outside the target: {member.linkname!r}")


def _escapes(normalized: str) -> bool:
    return normalized == ".." or normalized.startswith("../")


def _refuse(member: tarfile.TarInfo, archive_name: str, why: str) -> None:
    raise UnsafeArchiveError(f"refusing to extract {archive_name}: member {member.name!r} {why}",
                             member=member.name, uri=archive_name)
