"""Control groups for containers: one group per container with its memory, process and CPU limits.

Detected once per server process (``cgroup_tree``), in this order:

- **cgroup v2, delegated**: the server's own group lists ``memory pids cpu`` in ``cgroup.controllers``,
  is writable and is the server's to divide: systemd marked it delegated (``Delegate=yes``), it is
  the root of the server's cgroup namespace (a container with a private, writable cgroup mount), or
  the server is a normal user who may write it; ``MODELYARD_CGROUPS=v2`` skips that last check.
  v2 forbids processes in a group whose children have controllers, so the server first moves the
  processes of its own group into ``<own>/modelyard-server`` (a leaf), then enables the controllers
  below ``<own>``.
- **cgroup v1, writable**: the ``memory``, ``pids`` and ``cpu`` hierarchies are mounted and the
  server may create groups in each (a root server on a v1 host); ``cpuacct`` is used for CPU
  accounting when it is there too.
- **none**: the server falls back to rlimits (``limits``); the reason is kept for the log.

Layout, in each hierarchy, below the server's own group::

    <own>/modelyard/<server pid>/<container>     memory, pids, cpu limits of one container

``<server pid>`` keeps servers that share a group apart; at start a server removes the groups of
servers that are no longer running (killing what is left in them), so a crash leaves nothing behind.
A container's processes join its group in the forked child before exec (``join_files``), so no user
code ever runs outside it; the group is removed when the container has exited (``ContainerGroup.remove``).

Per container: memory (the limit, swap not allowed beyond it where the knob exists: v2
``memory.swap.max`` 0, v1 ``memory.memsw.limit_in_bytes``; v2 ``memory.oom.group`` kills the whole
container at once), pids, and a CPU quota of ``cpus`` cores per 100 ms period. All containers together
weigh as much as one server thread (v2 ``cpu.weight`` 100 against the server leaf's 100; v1
``cpu.shares`` 1024 against each nice-0 server thread's 1024), so the server keeps at least half a
core against any number of busy containers, each of which is also held to its quota. A lower weight
(256) made a sandboxed model's start 3x and its invocations 5x slower on a loaded host (group
scheduling gives a mostly sleeping group little weight at wake-up; ``bench/sandbox.py``).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import logging
import os
import re
import signal
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from modelyard.runtime.limits import Limits

logger = logging.getLogger("modelyard.runtime")

CGROUP_MODES = ("auto", "v2", "v1", "off")
PARENT = "modelyard"
SERVER_LEAF = "modelyard-server"
CPU_PERIOD_US = 100_000
CONTAINERS_CPU_WEIGHT = 100
CONTAINERS_CPU_SHARES = 1024
BACKGROUND_CPU_WEIGHT = 1
BACKGROUND_CPU_SHARES = 2
V1_REQUIRED = ("memory", "pids", "cpu")
V2_REQUIRED = ("memory", "pids", "cpu")
_REMOVE_WAIT = 3.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class CgroupError(Exception):
    """A group could not be made or joined; the message says which file refused."""


@dataclass(frozen=True)
class ContainerGroup:
    """One container's group: a directory per hierarchy (one for v2)."""

    version: str
    directories: dict[str, Path]
    """Controller name (``unified`` for v2) → the group's directory."""

    @property
    def join_files(self) -> tuple[str, ...]:
        """The ``cgroup.procs`` files a process writes its pid to, to join the group."""
        return tuple(str(directory / "cgroup.procs") for directory in self.directories.values())

    def _dir(self, controller: str) -> Path | None:
        return self.directories.get("unified" if self.version == "v2" else controller)

    def oom_kills(self) -> int:
        """How many processes the kernel killed in this group for exceeding its memory limit."""
        name = "memory.events" if self.version == "v2" else "memory.oom_control"
        directory = self._dir("memory")
        if directory is None:
            return 0
        fields = _key_values(directory / name)
        return fields.get("oom_kill", 0)

    def memory_peak(self) -> int | None:
        """The most memory the group has held, in bytes (None when the kernel does not say)."""
        directory = self._dir("memory")
        if directory is None:
            return None
        name = "memory.peak" if self.version == "v2" else "memory.max_usage_in_bytes"
        return _read_int(directory / name)

    def cpu_usage_ns(self) -> int | None:
        """CPU time used by the group so far, in nanoseconds (None without CPU accounting)."""
        if self.version == "v2":
            directory = self._dir("cpu")
            usage = _key_values(directory / "cpu.stat").get("usage_usec") if directory else None
            return None if usage is None else usage * 1000
        directory = self._dir("cpuacct")
        return None if directory is None else _read_int(directory / "cpuacct.usage")

    def throttled_periods(self) -> int | None:
        """How many CPU periods the group was held back by its quota (None when the kernel does not say)."""
        directory = self._dir("cpu")
        return None if directory is None else _key_values(directory / "cpu.stat").get("nr_throttled")

    def pids(self) -> list[int]:
        """Host pids of the processes in the group."""
        found: set[int] = set()
        for directory in self.directories.values():
            found.update(_procs(directory))
        return sorted(found)

    def remove(self) -> None:
        """Kill whatever is left in the group and remove its directories (waits briefly for zombies)."""
        for directory in self.directories.values():
            _remove_tree(directory)


class CgroupTree(ABC):
    """The usable cgroup hierarchy of this server: makes one group per container."""

    version: str

    @abstractmethod
    def create(self, name: str, limits: Limits) -> ContainerGroup:
        """A fresh group for the container ``name`` with ``limits`` applied; raises CgroupError."""

    @abstractmethod
    def background(self, name: str) -> ContainerGroup:
        """A group with the lowest CPU weight and no other limit, for the server's own bulk work (its
        control worker processes); raises CgroupError."""

    @abstractmethod
    def server_directories(self) -> list[Path]:
        """This server's parent directories (``<own>/modelyard/<pid>``), one per hierarchy."""

    def describe(self) -> str:
        """The mechanism, for log lines."""
        return f"cgroup {self.version}"


class V2Tree(CgroupTree):
    """A delegated cgroup v2 subtree."""

    version = "v2"

    def __init__(self, base: Path) -> None:
        self.base = base

    def server_directories(self) -> list[Path]:
        """The one directory of this server's containers."""
        return [self.base]

    def background(self, name: str) -> ContainerGroup:
        """A leaf below the server's directory with cpu.weight 1."""
        directory = _fresh_dir(self.base, name)
        group = ContainerGroup("v2", {"unified": directory})
        try:
            _write(directory / "cpu.weight", str(BACKGROUND_CPU_WEIGHT))
        except CgroupError:
            group.remove()
            raise
        return group

    def create(self, name: str, limits: Limits) -> ContainerGroup:
        """A leaf below the server's directory with memory.max, pids.max and cpu.max."""
        directory = _fresh_dir(self.base, name)
        group = ContainerGroup("v2", {"unified": directory})
        try:
            if limits.memory_bytes is not None:
                _write(directory / "memory.max", str(limits.memory_bytes))
                _write_optional(directory / "memory.swap.max", "0")
                _write_optional(directory / "memory.oom.group", "1")
            if limits.processes is not None:
                _write(directory / "pids.max", str(limits.processes))
            if limits.cpus is not None:
                _write(directory / "cpu.max", f"{max(1000, int(limits.cpus * CPU_PERIOD_US))} {CPU_PERIOD_US}")
        except CgroupError:
            group.remove()
            raise
        return group


class V1Tree(CgroupTree):
    """Writable cgroup v1 hierarchies (memory, pids, cpu; cpuacct when mounted apart)."""

    version = "v1"

    def __init__(self, bases: dict[str, Path]) -> None:
        self.bases = bases

    def server_directories(self) -> list[Path]:
        """One directory per hierarchy."""
        return list(dict.fromkeys(self.bases.values()))

    def background(self, name: str) -> ContainerGroup:
        """A group in the cpu hierarchy with cpu.shares 2 (the least)."""
        directory = _fresh_dir(self.bases["cpu"], _leaf_name(name), exact=True)
        group = ContainerGroup("v1", {"cpu": directory})
        try:
            _write(directory / "cpu.shares", str(BACKGROUND_CPU_SHARES))
        except CgroupError:
            group.remove()
            raise
        return group

    def create(self, name: str, limits: Limits) -> ContainerGroup:
        """A group in each hierarchy with the memory, pids and CFS quota knobs set."""
        directories: dict[str, Path] = {}
        made: dict[Path, Path] = {}
        leaf = _leaf_name(name)
        try:
            for controller, base in self.bases.items():
                if base not in made:
                    made[base] = _fresh_dir(base, leaf, exact=True)
                directories[controller] = made[base]
            group = ContainerGroup("v1", directories)
        except CgroupError:
            for directory in made.values():
                _remove_tree(directory)
            raise
        try:
            if limits.memory_bytes is not None:
                memory = directories["memory"]
                _write(memory / "memory.limit_in_bytes", str(limits.memory_bytes))
                if not _write_optional(memory / "memory.memsw.limit_in_bytes", str(limits.memory_bytes)):
                    _write_optional(memory / "memory.swappiness", "0")
            if limits.processes is not None:
                _write(directories["pids"] / "pids.max", str(limits.processes))
            if limits.cpus is not None:
                cpu = directories["cpu"]
                _write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
                _write(cpu / "cpu.cfs_quota_us", str(max(1000, int(limits.cpus * CPU_PERIOD_US))))
        except CgroupError:
            group.remove()
            raise
        return group


@functools.lru_cache(maxsize=1)
def cgroup_tree(mode: str = "auto") -> tuple[CgroupTree | None, str]:
    """The usable tree (or None) and a sentence saying what was found; detected once per mode.

    ``mode``: ``auto`` (v2 delegated, else v1 writable, else none), ``v2``, ``v1``, or ``off``."""
    if mode == "off":
        return None, "cgroups are off (MODELYARD_CGROUPS=off)"
    mounts = _cgroup_mounts()
    own = _own_groups()
    problems = []
    if mode in ("auto", "v2"):
        tree, problem = _try_v2(mounts, own, forced=mode == "v2")
        if tree is not None:
            atexit.register(_remove_server_dirs, tree)
            return tree, "cgroup v2 (delegated)"
        problems.append(f"cgroup v2: {problem}")
    if mode in ("auto", "v1"):
        old, problem = _try_v1(mounts, own)
        if old is not None:
            atexit.register(_remove_server_dirs, old)
            return old, "cgroup v1"
        problems.append(f"cgroup v1: {problem}")
    return None, "; ".join(problems)


def _delegated(directory: Path, own: str) -> bool:
    """Whether the group is the server's to divide: the root of its cgroup namespace (a container),
    a group a normal user may write (only a delegation allows that), or one systemd marked delegated."""
    if own == "/" or os.geteuid() != 0:
        return True
    for name in ("trusted.delegate", "user.delegate"):
        try:
            if os.getxattr(directory, name) == b"1":
                return True
        except OSError:
            continue
    return False


def _try_v2(mounts: list[tuple[str, str, str, set[str]]], own: dict[str, str], *,
            forced: bool = False) -> tuple[V2Tree | None, str]:
    mount = next(((point, root) for point, root, fstype, _ in mounts if fstype == "cgroup2"), None)
    if mount is None or "" not in own:
        return None, "not mounted"
    directory = _join(mount[0], mount[1], own[""])
    available = _read_words(directory / "cgroup.controllers")
    missing = [name for name in V2_REQUIRED if name not in available]
    if missing:
        return None, f"{', '.join(missing)} not delegated to {directory}"
    if not os.access(directory, os.W_OK) or not os.access(directory / "cgroup.subtree_control", os.W_OK):
        return None, f"{directory} is not writable"
    if not forced and not _delegated(directory, own[""]):
        return None, (f"{directory} is not delegated to this server (systemd Delegate=yes marks it); "
                      "MODELYARD_CGROUPS=v2 uses it anyway")
    try:
        _delegate_below(directory)
        parent = directory / PARENT
        parent.mkdir(exist_ok=True)
        _enable_controllers(parent)
        _write_optional(parent / "cpu.weight", str(CONTAINERS_CPU_WEIGHT))
        base = parent / str(os.getpid())
        _remove_stale(parent)
        base.mkdir(exist_ok=True)
        _enable_controllers(base)
    except (OSError, CgroupError) as exc:
        return None, str(exc)
    return V2Tree(base), ""


def _delegate_below(directory: Path) -> None:
    """Enable the controllers for ``directory``'s children, first moving its processes into a leaf."""
    if set(V2_REQUIRED) <= _read_words(directory / "cgroup.subtree_control"):
        return
    leaf = directory / SERVER_LEAF
    leaf.mkdir(exist_ok=True)
    for pid in _procs(directory):
        with contextlib.suppress(OSError):
            _write_raw(leaf / "cgroup.procs", str(pid))
    _enable_controllers(directory)


def _enable_controllers(directory: Path) -> None:
    if set(V2_REQUIRED) <= _read_words(directory / "cgroup.subtree_control"):
        return
    _write(directory / "cgroup.subtree_control", " ".join(f"+{name}" for name in V2_REQUIRED))


def _try_v1(mounts: list[tuple[str, str, str, set[str]]], own: dict[str, str]) -> tuple[V1Tree | None, str]:
    bases: dict[str, Path] = {}
    for controller in (*V1_REQUIRED, "cpuacct"):
        mount = next(((point, root) for point, root, fstype, options in mounts
                      if fstype == "cgroup" and controller in options), None)
        path = next((p for names, p in own.items() if controller in names.split(",")), None)
        if mount is None or path is None:
            if controller == "cpuacct":
                continue
            return None, f"the {controller} hierarchy is not mounted"
        directory = _join(mount[0], mount[1], path)
        if not os.access(directory, os.W_OK):
            if controller == "cpuacct":
                continue
            return None, f"{directory} is not writable"
        try:
            parent = directory / PARENT
            parent.mkdir(exist_ok=True)
            if controller == "cpu":
                _write_optional(parent / "cpu.shares", str(CONTAINERS_CPU_SHARES))
            _remove_stale(parent)
            base = parent / str(os.getpid())
            base.mkdir(exist_ok=True)
        except (OSError, CgroupError) as exc:
            if controller == "cpuacct":
                continue
            return None, str(exc)
        bases[controller] = base
    return V1Tree(bases), ""


def _remove_server_dirs(tree: CgroupTree) -> None:
    """At exit: remove this server's directories, and the parent when no other server uses it."""
    for directory in tree.server_directories():
        _remove_tree(directory)
        with contextlib.suppress(OSError):
            directory.parent.rmdir()


def _remove_stale(parent: Path) -> None:
    """Remove the groups of servers that no longer run (their directory is named by their pid)."""
    for entry in _subdirs(parent):
        if not entry.name.isdigit() or _alive(int(entry.name)):
            continue
        logger.info("removing the cgroup %s left by a server that is no longer running", entry)
        _remove_tree(entry)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_tree(directory: Path) -> None:
    """Kill the processes of ``directory`` and its subgroups, then remove them bottom-up."""
    for child in _subdirs(directory):
        _remove_tree(child)
    deadline = time.monotonic() + _REMOVE_WAIT
    while True:
        if (directory / "cgroup.kill").exists():
            _write_optional(directory / "cgroup.kill", "1")
        for pid in _procs(directory):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                logger.warning("cannot remove the cgroup %s: %s", directory, exc)
                return
        time.sleep(0.02)


def _fresh_dir(base: Path, name: str, *, exact: bool = False) -> Path:
    directory = base / (name if exact else _leaf_name(name))
    try:
        directory.mkdir()
    except OSError as exc:
        raise CgroupError(f"cannot create the cgroup {directory}: {exc.strerror or exc}") from None
    return directory


def _leaf_name(name: str) -> str:
    """A directory name for the container ``name``, unique within this server."""
    return f"{_UNSAFE.sub('_', name)[-80:].strip('_.') or 'container'}-{os.urandom(3).hex()}"


def _join(mountpoint: str, root: str, path: str) -> Path:
    relative = path[len(root):] if root != "/" and path.startswith(root) else path
    return Path(mountpoint) / relative.lstrip("/")


def _cgroup_mounts() -> list[tuple[str, str, str, set[str]]]:
    """(mount point, mount root, fstype, super options) of every cgroup mount."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        head, _, tail = line.partition(" - ")
        fields, rest = head.split(), tail.split()
        if len(fields) < 5 or len(rest) < 3 or rest[0] not in ("cgroup", "cgroup2"):
            continue
        found.append((_unescape(fields[4]), _unescape(fields[3]), rest[0], set(rest[2].split(","))))
    return found


def _own_groups() -> dict[str, str]:
    """Controllers field of /proc/self/cgroup ('' for v2) → this process's group path."""
    groups = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            groups[parts[1]] = parts[2]
    return groups


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _subdirs(directory: Path) -> list[Path]:
    try:
        return [Path(entry.path) for entry in os.scandir(directory) if entry.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _procs(directory: Path) -> list[int]:
    try:
        return [int(word) for word in (directory / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _read_words(path: Path) -> set[str]:
    try:
        return set(path.read_text().split())
    except OSError:
        return set()


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _key_values(path: Path) -> dict[str, int]:
    values = {}
    try:
        text = path.read_text()
    except OSError:
        return {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            values[key] = int(value)
    return values


def _write_raw(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _write(path: Path, value: str) -> None:
    try:
        _write_raw(path, value)
    except OSError as exc:
        raise CgroupError(f"cannot write {value!r} to {path}: {exc.strerror or exc}") from None


def _write_optional(path: Path, value: str) -> bool:
    """Write a knob that not every kernel has; whether it took."""
    try:
        _write_raw(path, value)
    except OSError:
        return False
    return True


def join_group(files: Iterable[str]) -> None:
    """Move the calling process into a group (meant for a forked child before exec); raises OSError."""
    pid = str(os.getpid()).encode()
    for path in files:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, pid)
        finally:
            os.close(fd)
