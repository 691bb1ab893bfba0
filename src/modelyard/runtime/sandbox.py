"""The bubblewrap (``bwrap``) command line that turns a process into a SageMaker-like container.

Inside the sandbox::

    /            host root, read-only (venvs and the toolkit source are visible, not writable)
    /dev /proc   fresh; the process sees only its own pid namespace
    /tmp         private tmpfs
    /opt         read-only tmpfs re-exposing the host's /opt entries, with
    /opt/ml      the container's own host directory, writable
    + writable   each listed directory (e.g. /etc) a private writable tmpfs holding a copy of the
                 host's small files (rewritable) and its subdirectories bound read-only: new files can
                 be created, host files stay visible, nothing reaches the host
    + binds      extra (host, inside, writable) mounts, e.g. a unix-socket directory at the same path
    network      the host's, or only a private loopback with --unshare-net

and it dies with its parent (``--die-with-parent``) in a new session (``--new-session``).
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

OPT_ML = "/opt/ml"
OPT = "/opt"
COPY_LIMIT_BYTES = 1 << 20
COPY_LIMIT_FILES = 400
RESERVED = ("/dev", "/proc", "/sys", "/tmp", OPT_ML)


@dataclass(frozen=True)
class Mount:
    """One bind mount: ``host`` appears at ``inside``."""

    host: str
    inside: str
    writable: bool


def find_bwrap() -> str | None:
    """The bwrap executable, or None when it is not installed."""
    if os.access("/usr/bin/bwrap", os.X_OK):
        return "/usr/bin/bwrap"
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=4)
def bwrap_problem(bwrap: str) -> str | None:
    """Why ``bwrap`` cannot sandbox here (its own words), or None when a trial sandbox ran fine."""
    argv = [
        bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
        "--tmpfs", "/opt", "--unshare-pid", "--unshare-ipc", "--unshare-net", "--die-with-parent",
        "--new-session", "true",
    ]  # fmt: skip
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{bwrap} could not be run: {exc}"
    if result.returncode != 0:
        detail = result.stderr.strip() or f"exit status {result.returncode}"
        return f"{bwrap} failed a trial run: {detail}"
    return None


def bwrap_argv(
    bwrap: str,
    argv: Sequence[str],
    *,
    opt_ml: Path,
    mounts: Sequence[Mount] = (),
    writable: Sequence[str] = (),
    copies: Mapping[str, int] | None = None,
    workdir: str = OPT_ML,
    network_isolated: bool = False,
    info_fd: int | None = None,
) -> list[str]:
    """The full ``bwrap … -- argv`` command line for one container.

    ``writable`` directories must pass ``writable_problem``; the caller checks. ``copies`` maps host
    files of those directories (see ``files_to_copy``) to descriptors open for reading, which bwrap
    must inherit; any other entry is bound read-only.
    """
    command = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    command += ["--tmpfs", OPT, *_host_entries(OPT, skip=OPT_ML)]
    layers = sorted({_inside(path) for path in writable} - {OPT}, key=lambda p: (p.count("/"), p))
    for layer in layers:
        command += ["--tmpfs", layer, *_host_entries(layer, copies=copies or {})]
    command += ["--bind", str(opt_ml), OPT_ML]
    for mount in sorted(mounts, key=lambda m: (m.inside.count("/"), m.inside)):
        command += ["--bind" if mount.writable else "--ro-bind", mount.host, mount.inside]
    if OPT not in {_inside(path) for path in writable}:
        command += ["--remount-ro", OPT]
    command += ["--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session"]
    if network_isolated:
        command.append("--unshare-net")
    command += ["--chdir", workdir]
    if info_fd is not None:
        command += ["--info-fd", str(info_fd)]
    return [*command, "--", *argv]


def files_to_copy(writable: Sequence[str]) -> list[str]:
    """The host files that ``writable`` layers hold as copies: regular files of at most
    ``COPY_LIMIT_BYTES``, ``COPY_LIMIT_FILES`` in all (the rest are bound read-only)."""
    found: list[str] = []
    for layer in sorted({_inside(path) for path in writable} - {OPT}):
        for path in _entries(layer):
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_size <= COPY_LIMIT_BYTES:
                found.append(path)
    return found[:COPY_LIMIT_FILES]


def writable_problem(path: str, others: Sequence[str] = ()) -> str | None:
    """Why ``path`` cannot be a writable directory of a container (``others``: the rest of the list)."""
    if not path.startswith("/") or os.path.normpath(path) != path.rstrip("/") or path == "/":
        return f"{path!r} must be an absolute, normalized directory path other than /"
    inside = _inside(path)
    for reserved in RESERVED:
        if _within(path, reserved) or _within(inside, reserved):
            return f"{path} lies in {reserved}, which the sandbox manages itself"
    if os.path.exists(inside):
        return None if os.path.isdir(inside) else f"{path} is not a directory on this host"
    if _within(inside, OPT) or any(_within(inside, _inside(o)) and _inside(o) != inside for o in others):
        return None
    return (
        f"{path} does not exist on this host: only directories under /opt or under another writable "
        f"directory can be created"
    )


def within_writable(inside: str, writable: Sequence[str]) -> bool:
    """Whether the container path ``inside`` lies in one of the ``writable`` directories."""
    return any(_within(os.path.normpath(inside), _inside(path)) for path in writable)


def _within(path: str, directory: str) -> bool:
    directory = directory.rstrip("/")
    return path == directory or path.startswith(directory + "/")


def _inside(path: str) -> str:
    """Where a writable path is mounted: its real path when it exists (a symlinked /var/run → /run)."""
    normalized = os.path.normpath(path)
    return os.path.realpath(normalized) if os.path.exists(normalized) else normalized


def _entries(directory: str) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    return [f"{directory.rstrip('/')}/{name}" for name in names]


def _host_entries(directory: str, skip: str | None = None, copies: Mapping[str, int] | None = None) -> list[str]:
    """Options re-exposing the host's entries of ``directory``: symlinks as symlinks, ``copies`` as
    files of their own, everything else bound read-only."""
    options: list[str] = []
    for path in _entries(directory):
        if path == skip:
            continue
        if os.path.islink(path):
            options += ["--symlink", os.readlink(path), path]
        elif copies and path in copies:
            mode = stat.S_IMODE(os.fstat(copies[path]).st_mode)
            options += ["--perms", f"{mode:04o}", "--file", str(copies[path]), path]
        else:
            options += ["--ro-bind-try", path, path]
    return options
