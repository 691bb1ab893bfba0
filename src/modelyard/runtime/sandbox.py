"""The bubblewrap (``bwrap``) command line that turns a process into a SageMaker-like container.

Inside the sandbox::

    /            an empty, read-only tmpfs holding only the runtime (``view``): /usr and its
                 symlinks, an allow-listed /etc with a passwd/group of its own, and the program's
                 paths (venv, interpreter, imported source) bound read-only by the caller
    /dev /proc   fresh; the process sees only its own pid namespace
    /tmp         private tmpfs of a limited size (``limits``), as is /dev/shm
    /opt         read-only empty tmpfs, with
    /opt/ml      the container's own host directory, writable
    + writable   each listed directory (e.g. /etc) a private writable tmpfs (as large as /tmp) holding a copy of the
                 host's small files (rewritable) and its subdirectories bound read-only: new files can
                 be created, host files stay visible, nothing reaches the host
    + binds      extra (host, inside, writable) mounts, e.g. a unix-socket directory at the same path
    network      the host's, or only a private loopback with --unshare-net

and it dies with its parent (``--die-with-parent``) in a new session (``--new-session``), as an
unprivileged uid with no capabilities (``identity``), under rlimits (``limits``).
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

from modelyard.runtime.identity import Identity
from modelyard.runtime.limits import Limits
from modelyard.runtime.view import GENERATED_ETC, SYSTEM_DIRS, etc_allowed, etc_entries, system_options

OPT_ML = "/opt/ml"
OPT = "/opt"
COPY_LIMIT_BYTES = 1 << 20
COPY_LIMIT_FILES = 400
ETC = "/etc"
GENERATED = tuple(f"{ETC}/{name}" for name in GENERATED_ETC)
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
    identity: Identity | None = None,
    limits: Limits | None = None,
    etc_fds: Mapping[str, int] | None = None,
    block_fd: int | None = None,
    hostname: str | None = None,
    seccomp_fd: int | None = None,
) -> list[str]:
    """The full ``bwrap … -- argv`` command line for one container.

    ``writable`` directories must pass ``writable_problem``; the caller checks. ``copies`` maps host
    files of those directories (see ``files_to_copy``) to descriptors open for reading, which bwrap
    must inherit; any other entry is bound read-only. ``etc_fds`` maps ``/etc/passwd`` and
    ``/etc/group`` to descriptors holding the sandbox's own (see ``view``). ``identity`` None runs as
    the caller (trial runs only); ``limits`` None sets none. ``block_fd``: the program waits until
    something is written to it (the user-mode network is configured), and gets a network namespace
    of its own even without ``network_isolated``. ``hostname``: the sandbox's own host name (a UTS
    namespace of its own). ``seccomp_fd``: a descriptor holding the seccomp program the program runs
    under (``seccomp.no_new_user_namespaces``).
    """
    tmp_size = [] if limits is None or limits.tmp_bytes is None else ["--size", str(limits.tmp_bytes)]
    command = [bwrap, *system_options()]
    layers = sorted({_inside(path) for path in writable} - {OPT}, key=lambda p: (p.count("/"), p))
    if ETC not in layers:
        command += _etc_options(etc_fds or {})
    command += ["--dev", "/dev", "--proc", "/proc", "--perms", "1777", *tmp_size, "--tmpfs", "/tmp"]
    open_up = identity is not None and identity.switch
    opt_mode = ["--perms", "1777"] if open_up and OPT in {_inside(path) for path in writable} else []
    command += ["--perms", "1777", *tmp_size, "--tmpfs", "/dev/shm", *opt_mode, *tmp_size, "--tmpfs", OPT]
    for layer in layers:
        command += [*(["--perms", "1777"] if open_up else []), *tmp_size, "--tmpfs", layer]
        command += _host_entries(layer, copies=copies or {}, open_up=open_up, skip=set(etc_fds or {}))
        if layer == ETC:
            command += _generated_etc(etc_fds or {}, open_up=open_up)
    command += ["--bind", str(opt_ml), OPT_ML]
    made = {"/", "/tmp", OPT, OPT_ML, ETC, *layers}
    for mount in sorted(mounts, key=lambda m: (m.inside.count("/"), m.inside)):
        command += _parent_dirs(mount.inside, made)
        command += ["--bind" if mount.writable else "--ro-bind", mount.host, mount.inside]
        made.add(mount.inside)
    if OPT not in {_inside(path) for path in writable}:
        command += ["--remount-ro", OPT]
    command += ["--remount-ro", "/"]
    command += ["--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session"]
    if identity is not None:
        command += identity.bwrap_options()
    if network_isolated or block_fd is not None:
        command.append("--unshare-net")
    if block_fd is not None:
        command += ["--block-fd", str(block_fd)]
    if hostname is not None:
        command += ["--unshare-uts", "--hostname", hostname]
    command += ["--chdir", workdir]
    if info_fd is not None:
        command += ["--info-fd", str(info_fd)]
    if seccomp_fd is not None:
        command += ["--seccomp", str(seccomp_fd)]
    prefix = [] if limits is None else limits.prlimit_prefix(
        count_processes=identity is not None and identity.counts_processes_alone)
    prefix += [] if identity is None else identity.exec_prefix()
    return [*command, "--", *prefix, *argv]


def _parent_dirs(inside: str, made: set[str]) -> list[str]:
    """Traversable (0755) directories leading to ``inside``: bwrap would make missing ones 0700, which
    the sandbox user could not cross."""
    options: list[str] = []
    parent = os.path.dirname(os.path.normpath(inside))
    ancestors = []
    while parent not in made and parent != "/" and not _system_path(parent):
        ancestors.append(parent)
        parent = os.path.dirname(parent)
    for directory in reversed(ancestors):
        options += ["--perms", "0755", "--dir", directory]
        made.add(directory)
    return options


def _system_path(path: str) -> bool:
    return any(_within(path, directory) for directory in SYSTEM_DIRS)


def _etc_options(etc_fds: Mapping[str, int]) -> list[str]:
    options: list[str] = ["--perms", "0755", "--dir", ETC]
    for path in etc_entries():
        if os.path.islink(path):
            options += ["--symlink", os.readlink(path), path]
        else:
            options += ["--ro-bind-try", path, path]
    for path, fd in sorted(etc_fds.items()):
        options += ["--perms", "0644", "--ro-bind-data", str(fd), path]
    return options


def _generated_etc(etc_fds: Mapping[str, int], *, open_up: bool) -> list[str]:
    mode = "0666" if open_up else "0644"
    return [option for path, fd in sorted(etc_fds.items()) for option in ("--perms", mode, "--file", str(fd), path)]


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
            if layer == ETC and (not etc_allowed(path) or path in GENERATED):
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


def _host_entries(directory: str, copies: Mapping[str, int], *, open_up: bool, skip: set[str]) -> list[str]:
    """Options re-exposing the host's entries of ``directory`` (of /etc only the allowed ones):
    symlinks as symlinks, ``copies`` as files of their own (writable by anyone when ``open_up``: the
    sandbox user does not own them), everything else bound read-only."""
    options: list[str] = []
    for path in _entries(directory):
        if directory == ETC and (not etc_allowed(path) or path in GENERATED or path in skip):
            continue
        if os.path.islink(path):
            options += ["--symlink", os.readlink(path), path]
        elif path in copies:
            mode = stat.S_IMODE(os.fstat(copies[path]).st_mode) | (0o666 if open_up else 0)
            options += ["--perms", f"{mode:04o}", "--file", str(copies[path]), path]
        else:
            options += ["--ro-bind-try", path, path]
    return options
