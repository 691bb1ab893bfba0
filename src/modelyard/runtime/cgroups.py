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

Layout below the server's own group (``<own>``)::

    <own>/modelyard/                             the servers of <own>: cpu weight of one server each
    <own>/modelyard/<pid>/                       one server as a whole: a server thread + its containers
    <own>/modelyard/<pid>/server                 the server process itself (cpu; ``place_server``)
    <own>/modelyard/<pid>/control-workers-<x>    its control workers: a tenth of the server's weight
    <own>/modelyard/<pid>/containers/            all its containers together: as much as the server
    <own>/modelyard/<pid>/containers/<container> memory, pids, cpu limits of one container

(v1: the containers' directories in each of the memory, pids and cpu hierarchies, the server's and the
workers' in the cpu hierarchy only.) ``<pid>`` keeps servers that share a group apart; at start a server
removes the groups of servers that are no longer running (killing what is left in them), so a crash
leaves nothing behind. A container's processes join its group in the forked child before exec
(``join_files``), so no user code ever runs outside it; the group is removed when the container has
exited (``ContainerGroup.remove``). At exit the server moves itself (and any child still in its leaf)
back to the group it came from and removes its directories.

Per container: memory (the limit, swap not allowed beyond it where the knob exists: v2
``memory.swap.max`` 0, v1 ``memory.memsw.limit_in_bytes``; v2 ``memory.oom.group`` kills the whole
container at once), pids, and a CPU quota of ``cpus`` cores per 100 ms period.

CPU weights. All containers together weigh as much as the server process (v2 ``cpu.weight`` 100 and
100, v1 ``cpu.shares`` 1024 and 1024: a nice-0 thread's), so the server keeps at least half of its
share against any number of busy containers, each also held to its quota. A lower weight for the
containers (256 of 1024) made a sandboxed model's start 3x and its invocations 5x slower on a loaded
host (group scheduling gives a mostly sleeping group little weight at wake-up; ``bench/sandbox.py``).
The control workers weigh a tenth of the server process: the server is their sibling, so a nice-19
worker parsing a 14 MB body or running a Search gets a tenth of what the server could use, however
idle the containers are (a low-weight leaf beside the containers alone inherited the whole server
share whenever the containers waited). ``<pid>`` weighs server + containers (200 / 2048) and
``modelyard`` that times the running servers, so against the host's other processes a server as a
whole keeps what its thread and its containers had when the server ran directly in ``<own>``, and a
replaced control worker of an idle server gets the whole of it on a busy host (a least-weight group
beside every host process starved there).
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
OWN_LEAF = "server"
CONTAINERS = "containers"
CPU_PERIOD_US = 100_000
SERVER_CPU_WEIGHT = 100
SERVER_CPU_SHARES = 1024
CONTAINERS_CPU_WEIGHT = 100
CONTAINERS_CPU_SHARES = 1024
BACKGROUND_CPU_WEIGHT = 10
BACKGROUND_CPU_SHARES = 102
PER_SERVER_CPU_WEIGHT = SERVER_CPU_WEIGHT + CONTAINERS_CPU_WEIGHT
PER_SERVER_CPU_SHARES = SERVER_CPU_SHARES + CONTAINERS_CPU_SHARES
MAX_CPU_WEIGHT = 10_000
MAX_CPU_SHARES = 262_144
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

    def limit_cpu(self, cores: float | None) -> None:
        """At most ``cores`` CPUs for the whole group (a CFS quota per ``CPU_PERIOD_US``); None lifts the
        quota. Raises CgroupError."""
        directory = self._dir("cpu")
        if directory is None:
            raise CgroupError("the group has no CPU controller")
        quota = None if cores is None else max(1000, int(cores * CPU_PERIOD_US))
        if self.version == "v2":
            _write(directory / "cpu.max", f"{'max' if quota is None else quota} {CPU_PERIOD_US}")
        else:
            _write(directory / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(directory / "cpu.cfs_quota_us", str(-1 if quota is None else quota))

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
    """The usable cgroup hierarchy of this server: one group per container, a leaf for the server process
    and one for its control workers."""

    version: str
    cpu_key: str
    """The ``ContainerGroup.directories`` key of the hierarchy with the cpu controller."""
    cpu_knob: str
    server_weight: int
    background_weight: int
    _home: Path | None = None

    @property
    @abstractmethod
    def cpu_base(self) -> Path:
        """This server's directory (``<own>/modelyard/<pid>``) in the hierarchy with the cpu controller."""

    @abstractmethod
    def create(self, name: str, limits: Limits) -> ContainerGroup:
        """A fresh group for the container ``name`` with ``limits`` applied; raises CgroupError."""

    @abstractmethod
    def server_directories(self) -> list[Path]:
        """This server's directories (``<own>/modelyard/<pid>``), one per hierarchy."""

    def background(self, name: str) -> ContainerGroup:
        """A leaf beside the server's own, at a tenth of its CPU weight and with no other limit, for the
        server's bulk work (its control worker processes); raises CgroupError."""
        directory = _fresh_dir(self.cpu_base, name)
        group = ContainerGroup(self.version, {self.cpu_key: directory})
        try:
            _write(directory / self.cpu_knob, str(self.background_weight))
        except CgroupError:
            group.remove()
            raise
        return group

    def place_server(self) -> None:
        """Move this process (all its threads) into its own leaf ``<pid>/server``, the sibling of its
        containers and control workers; at exit ``release_server`` moves it back. Raises CgroupError."""
        home = _current_dir(self.cpu_key)
        if home is None:
            raise CgroupError("cannot find this process's own cgroup in /proc/self/cgroup")
        leaf = self.cpu_base / OWN_LEAF
        try:
            leaf.mkdir(exist_ok=True)
        except OSError as exc:
            raise CgroupError(f"cannot create the cgroup {leaf}: {exc.strerror or exc}") from None
        _write(leaf / self.cpu_knob, str(self.server_weight))
        _write(leaf / "cgroup.procs", str(os.getpid()))
        self._home = home

    def release_server(self) -> bool:
        """Move the processes of the server's leaf (the server and any child started since) back to the
        group the server came from; whether the server itself is out of its leaf."""
        if self._home is None:
            return True
        leaf = self.cpu_base / OWN_LEAF
        for pid in _procs(leaf):
            with contextlib.suppress(OSError):
                _write_raw(self._home / "cgroup.procs", str(pid))
        return os.getpid() not in _procs(leaf)

    def describe(self) -> str:
        """The mechanism, for log lines."""
        return f"cgroup {self.version}"


class V2Tree(CgroupTree):
    """A delegated cgroup v2 subtree."""

    version = "v2"
    cpu_key = "unified"
    cpu_knob = "cpu.weight"
    server_weight = SERVER_CPU_WEIGHT
    background_weight = BACKGROUND_CPU_WEIGHT

    def __init__(self, base: Path) -> None:
        self.base = base

    @property
    def cpu_base(self) -> Path:
        """The server's one directory."""
        return self.base

    def server_directories(self) -> list[Path]:
        """The one directory of this server."""
        return [self.base]

    def create(self, name: str, limits: Limits) -> ContainerGroup:
        """A leaf below the server's ``containers`` with memory.max, pids.max and cpu.max."""
        directory = _fresh_dir(self.base / CONTAINERS, name)
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
    cpu_key = "cpu"
    cpu_knob = "cpu.shares"
    server_weight = SERVER_CPU_SHARES
    background_weight = BACKGROUND_CPU_SHARES

    def __init__(self, bases: dict[str, Path]) -> None:
        self.bases = bases

    @property
    def cpu_base(self) -> Path:
        """The server's directory in the cpu hierarchy."""
        return self.bases["cpu"]

    def server_directories(self) -> list[Path]:
        """One directory per hierarchy."""
        return list(dict.fromkeys(self.bases.values()))

    def create(self, name: str, limits: Limits) -> ContainerGroup:
        """A group below the server's ``containers`` in each hierarchy with the memory, pids and CFS quota
        knobs set."""
        directories: dict[str, Path] = {}
        made: dict[Path, Path] = {}
        leaf = _leaf_name(name)
        try:
            for controller, base in self.bases.items():
                if base not in made:
                    made[base] = _fresh_dir(base / CONTAINERS, leaf, exact=True)
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
            _remove_at_exit(tree)
            return tree, "cgroup v2 (delegated)"
        problems.append(f"cgroup v2: {problem}")
    if mode in ("auto", "v1"):
        old, problem = _try_v1(mounts, own)
        if old is not None:
            _remove_at_exit(old)
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
        base = parent / str(os.getpid())
        _remove_stale(parent)
        base.mkdir(exist_ok=True)
        _weigh_servers(parent, "cpu.weight", PER_SERVER_CPU_WEIGHT, MAX_CPU_WEIGHT)
        _write_optional(base / "cpu.weight", str(PER_SERVER_CPU_WEIGHT))
        _enable_controllers(base)
        (base / CONTAINERS).mkdir(exist_ok=True)
        _enable_controllers(base / CONTAINERS)
        _write_optional(base / CONTAINERS / "cpu.weight", str(CONTAINERS_CPU_WEIGHT))
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
            _remove_stale(parent)
            base = parent / str(os.getpid())
            base.mkdir(exist_ok=True)
            (base / CONTAINERS).mkdir(exist_ok=True)
            if controller == "cpu":
                _weigh_servers(parent, "cpu.shares", PER_SERVER_CPU_SHARES, MAX_CPU_SHARES)
                _write_optional(base / "cpu.shares", str(PER_SERVER_CPU_SHARES))
                _write_optional(base / CONTAINERS / "cpu.shares", str(CONTAINERS_CPU_SHARES))
        except (OSError, CgroupError) as exc:
            if controller == "cpuacct":
                continue
            return None, str(exc)
        bases[controller] = base
    return V1Tree(bases), ""


_DETECTED: list[CgroupTree] = []


def _remove_at_exit(tree: CgroupTree) -> None:
    if not _DETECTED:
        atexit.register(remove_server_groups)
    _DETECTED.append(tree)


def remove_server_groups() -> None:
    """Move this process out of its leaf and remove its groups (what exit does; call it before ending by
    a signal, which skips ``atexit``). Idempotent."""
    while _DETECTED:
        _remove_server_dirs(_DETECTED.pop())


def _remove_server_dirs(tree: CgroupTree) -> None:
    """The server back where it came from, then its directories removed, and the parent when no other
    server uses it (else weighed for the servers left)."""
    if not tree.release_server():
        logger.warning("cannot move this server out of %s; its cgroups are left to the next server to remove",
                       tree.cpu_base / OWN_LEAF)
        return
    for directory in tree.server_directories():
        _remove_tree(directory)
        with contextlib.suppress(OSError):
            directory.parent.rmdir()
    parent = tree.cpu_base.parent
    if parent.is_dir():
        if tree.version == "v2":
            _weigh_servers(parent, "cpu.weight", PER_SERVER_CPU_WEIGHT, MAX_CPU_WEIGHT)
        else:
            _weigh_servers(parent, "cpu.shares", PER_SERVER_CPU_SHARES, MAX_CPU_SHARES)


def _weigh_servers(parent: Path, knob: str, per_server: int, maximum: int) -> None:
    """``modelyard``'s CPU weight: one server's for each server with a directory in it, so servers sharing
    ``<own>`` do not split one server's weight against the host's other processes."""
    servers = sum(1 for entry in _subdirs(parent) if entry.name.isdigit())
    _write_optional(parent / knob, str(min(maximum, per_server * max(1, servers))))


def _current_dir(hierarchy: str) -> Path | None:
    """This process's group directory in the hierarchy of the ``hierarchy`` controller (``unified``: v2)."""
    own = _own_groups()
    for point, root, fstype, options in _cgroup_mounts():
        if hierarchy == "unified" and fstype == "cgroup2" and "" in own:
            return _join(point, root, own[""])
        if hierarchy != "unified" and fstype == "cgroup" and hierarchy in options:
            path = next((p for names, p in own.items() if hierarchy in names.split(",")), None)
            if path is not None:
                return _join(point, root, path)
    return None


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
