"""The process backend: a container is one process tree, sandboxed by bubblewrap when it works here.

::

    ProcessBackend.start(ContainerSpec) ─► spawner thread ─► Popen(bwrap … -- argv)   (sandboxed)
                                                        └─► Popen(argv)               (fallback)
                                        ◄─ ContainerProcess: poll / wait / stop / kill

Every container is started from one long-lived spawner thread, because the parent-death signal
(``PR_SET_PDEATHSIG``) fires when the *thread* that forked the child ends: containers die with the
server process, never with a short-lived worker thread. Each child also drops its CPU priority
below the server's (``priority``) and, where the host allows cgroups (``cgroups``), joins the
container's own group before exec, so all of the container's processes share its memory, process
and CPU limits from their first instruction. A watchdog thread per container (``watchdog``) kills
it when its group saw an OOM kill or its writable directories pass the disk budget, and removes the
group when it ends.

Without the sandbox there is no ``/opt/ml``, read-only root, private ``/tmp`` nor network isolation;
callers check ``backend.sandboxed`` and pass paths through ``backend.inside_path``.
"""

from __future__ import annotations

import ctypes
import functools
import json
import logging
import os
import select
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from modelyard.runtime.cgroups import CGROUP_MODES, CgroupError, CgroupTree, ContainerGroup, cgroup_tree, join_group
from modelyard.runtime.containers import ContainerProcess
from modelyard.runtime.errors import ContainerStartError, SandboxUnavailableError
from modelyard.runtime.identity import Identity, identity_for, release_identity
from modelyard.runtime.limits import Limits
from modelyard.runtime.priority import lower_priority
from modelyard.runtime.program_paths import environment_paths, program_paths
from modelyard.runtime.sandbox import (
    OPT_ML,
    Mount,
    bwrap_argv,
    bwrap_problem,
    files_to_copy,
    find_bwrap,
    within_writable,
    writable_problem,
)
from modelyard.runtime.seccomp import container_filter
from modelyard.runtime.spawner import run_in_spawner
from modelyard.runtime.uid_leases import UidLeaseError
from modelyard.runtime.usernet import (
    RESOLV_CONF,
    TUN,
    UserNetworkError,
    find_slirp4netns,
    start_user_network,
    tun_usable,
    wait_for_loopback,
)
from modelyard.runtime.view import group_text, passwd_text
from modelyard.runtime.watchdog import LimitWatch

logger = logging.getLogger("modelyard.runtime")

BASIC_VARIABLES = (
    "PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "HOME", "USER", "LOGNAME",
)  # fmt: skip
_PR_SET_PDEATHSIG = 1
_CLONE_NEWUSER = 0x10000000
_INFO_TIMEOUT = 30.0


@dataclass
class ContainerSpec:
    """How to run one container. Paths are host paths except the ``inside`` side of binds.

    ``env`` is complete: of the server's environment only ``BASIC_VARIABLES`` are passed on (in the
    sandbox ``HOME`` defaults to ``/tmp``, the only writable place besides ``/opt/ml``), and
    ``PYTHONUNBUFFERED=1`` is set unless given. ``binds`` are ``(host, inside, writable)``;
    ``ro_binds`` are ``(host, inside)``; a unix-socket directory shared with the host is a writable
    bind at the same path. The sandbox's ``/tmp`` is private: the program's own venv and
    interpreter are bound read-only at their paths when they lie there (see ``program_paths``);
    any other host path under ``/tmp`` must be bound too (``reveal_host_paths``) to be visible. Output is appended to
    ``stdout_path``; ``stderr_path`` None means the same file, and ``stdout_path`` None discards
    output. ``workdir`` defaults to ``opt_ml``. ``writable`` lists container directories (``/etc``)
    that get a private, writable copy of the host's (see ``sandbox``); without the sandbox the
    program writes the host's directories themselves.
    """

    argv: list[str]
    opt_ml: Path
    env: dict[str, str] = field(default_factory=dict)
    binds: list[tuple[Path | str, str, bool]] = field(default_factory=list)
    ro_binds: list[tuple[Path | str, str]] = field(default_factory=list)
    workdir: Path | None = None
    writable: list[str] = field(default_factory=list)
    network_isolated: bool = False
    stdout_path: Path | None = None
    stderr_path: Path | None = None
    name: str = "container"
    capture_output: bool = False
    limits: Limits = field(default_factory=Limits)
    note: Callable[[str], None] | None = None
    """Where modelyard's own lines about the container go (a limit it broke), besides the server log."""
    hostname: str | None = None
    """The sandbox's host name (its own UTS namespace), e.g. ``algo-2``."""
    hosts_file: str | None = None
    """The sandbox's /etc/hosts, in place of the host's."""
    attach_network: Callable[[int], None] | None = None
    """Called with the sandbox's pid once its namespaces exist and before its program starts (a job
    network's ``attach``); what it raises fails the start."""
    held: bool = False
    """With ``attach_network``: the program waits until ``ContainerProcess.release()`` (so that every
    host of a job is wired before any starts)."""

    def mounts(self) -> list[Mount]:
        """``binds`` and ``ro_binds`` as Mount records."""
        mounts = [Mount(str(host), inside, bool(writable)) for host, inside, writable in self.binds]
        return mounts + [Mount(str(host), inside, False) for host, inside in self.ro_binds]


def reveal_host_paths(spec: ContainerSpec, *paths: Path | str | None) -> None:
    """Bind host paths read-only at the same place, a venv with its interpreter and ``.pth`` sources:
    the sandbox's root holds only system directories (venvs, images, the toolkit source)."""
    covered = {inside for _, inside in spec.ro_binds}
    for path in paths:
        if path is None:
            continue
        for needed in [*environment_paths(path), *_link_targets(path)]:
            if needed not in covered and os.path.exists(needed):
                spec.ro_binds.append((needed, needed))
                covered.add(needed)


class ProcessBackend:
    """Starts containers as local processes; ``sandbox`` None means "bwrap if it works here"."""

    def __init__(self, sandbox: bool | None = None, *, bwrap: str | None = None,
                 host_network: bool = False, cgroups: str | None = None) -> None:
        self.bwrap = bwrap or find_bwrap()
        self.sandbox_problem: str | None = None
        self.cgroups: CgroupTree | None = None
        self.cgroups_note = "the sandbox is off"
        self.slirp = None if host_network else find_slirp4netns()
        self.host_network = host_network
        no_network = "slirp4netns is not installed (apt install slirp4netns)"
        if self.slirp is not None and os.geteuid() != 0 and not tun_usable():
            self.slirp, no_network = None, f"this user may not open {TUN}, which slirp4netns needs"
        if sandbox is False:
            self.sandboxed = False
            self.sandbox_problem = "disabled by configuration"
            return
        problem = (
            bwrap_problem(self.bwrap) if self.bwrap else "bwrap is not installed (apt install bubblewrap)"
        )
        if problem is None:
            self.sandboxed = True
            mode = cgroups or os.environ.get("MODELYARD_CGROUPS") or "auto"
            if mode not in CGROUP_MODES:
                raise SandboxUnavailableError(
                    f"MODELYARD_CGROUPS is {mode!r}; it must be one of {', '.join(CGROUP_MODES)}")
            self.cgroups, self.cgroups_note = cgroup_tree(mode)
            if self.cgroups is None:
                logger.info("container limits: rlimits (no usable cgroups: %s)", self.cgroups_note)
            if self.slirp is None and not host_network:
                logger.warning("%s: containers get no network at all, as under EnableNetworkIsolation",
                               no_network)
            return
        if sandbox is True:
            raise SandboxUnavailableError(f"the sandbox was requested but cannot run: {problem}")
        self.sandboxed = False
        self.sandbox_problem = problem
        logger.warning(
            "sandbox is OFF: %s. Containers run as plain processes: no /opt/ml, no read-only root, "
            "no private /tmp, no network isolation.",
            problem,
        )

    def describe_limits(self, limits: Limits) -> str:
        """The container log's line about ``limits``, naming the mechanism that applies them."""
        return limits.describe(self.cgroups.describe() if self.cgroups is not None else None)

    def inside_path(self, spec: ContainerSpec, host_path: Path | str) -> str:
        """Where ``host_path`` appears inside the container (itself when not sandboxed or not mounted)."""
        host = Path(host_path).absolute()
        if not self.sandboxed:
            return str(host)
        best: tuple[int, str] | None = None
        for mount in [Mount(str(spec.opt_ml), OPT_ML, True), *spec.mounts()]:
            root = Path(mount.host).absolute()
            if host == root or root in host.parents:
                depth = len(root.parts)
                if best is None or depth > best[0]:
                    relative = host.relative_to(root).as_posix()
                    inside = mount.inside if relative == "." else f"{mount.inside.rstrip('/')}/{relative}"
                    best = (depth, inside)
        return best[1] if best else str(host)

    def start(self, spec: ContainerSpec) -> ContainerProcess:
        """Start ``spec``; raises ContainerStartError when it cannot be launched. In the sandbox, the
        program's venv and interpreter are bound read-only when they lie under the private /tmp."""
        if self.sandboxed and spec.argv:
            spec = _with_program_paths(spec)
        _check(spec, sandboxed=self.sandboxed)
        Path(spec.opt_ml).mkdir(parents=True, exist_ok=True)
        if spec.network_isolated and not self.sandboxed:
            logger.warning(
                "%s: network isolation requested, but the sandbox is off: it has network", spec.name
            )
        if spec.writable and not self.sandboxed:
            logger.warning(
                "%s: the sandbox is off: the container writes the host's own %s",
                spec.name, ", ".join(spec.writable),
            )  # fmt: skip
        env = self._environment(spec)
        workdir = Path(spec.workdir or spec.opt_ml)
        stdout, stderr = _open_logs(spec)
        try:
            if self.sandboxed:
                return self._start_sandboxed(spec, env, workdir, stdout, stderr)
            launch = _launcher(list(spec.argv), env, str(workdir), stdout, stderr)
            popen = run_in_spawner(launch)
            return ContainerProcess(popen, name=spec.name, sandboxed=False)
        except (OSError, subprocess.SubprocessError) as exc:
            raise ContainerStartError(f"{spec.name}: cannot start {spec.argv[0]!r}: {exc}") from exc
        finally:
            for handle in {id(h): h for h in (stdout, stderr) if hasattr(h, "close")}.values():
                handle.close()

    def _start_sandboxed(
        self, spec: ContainerSpec, env: dict[str, str], workdir: Path, stdout: IO[bytes] | None,
        stderr: IO[bytes] | None,
    ) -> ContainerProcess:  # fmt: skip
        key = str(Path(spec.opt_ml).absolute())
        try:
            identity = identity_for(key)
        except UidLeaseError as exc:
            raise ContainerStartError(f"{spec.name}: {exc}") from None
        try:
            return self._start_as(spec, env, workdir, stdout, stderr, identity, key)
        except BaseException:
            release_identity(key)
            raise

    def _start_as(
        self, spec: ContainerSpec, env: dict[str, str], workdir: Path, stdout: IO[bytes] | None,
        stderr: IO[bytes] | None, identity: Identity, key: str,
    ) -> ContainerProcess:  # fmt: skip
        assert self.bwrap is not None
        if identity.switch:
            _hand_over([Path(spec.opt_ml), *(Path(m.host) for m in spec.mounts() if m.writable)], identity.uid)
        group = self._new_group(spec)
        copies = _open_copies(files_to_copy(spec.writable)) if spec.writable else {}
        etc_fds = _data_fds({"/etc/passwd": passwd_text(identity.uid, identity.gid),
                             "/etc/group": group_text(identity.gid)})
        user_network = self.slirp is not None and not spec.network_isolated
        if user_network:
            etc_fds.update(_data_fds({"/etc/resolv.conf": RESOLV_CONF}))
        if spec.hosts_file is not None:
            etc_fds.update(_data_fds({"/etc/hosts": spec.hosts_file}))
        copies_and_etc = {**copies, **{f"generated:{k}": v for k, v in etc_fds.items()}}
        blocked = user_network or spec.attach_network is not None
        block_read, block_write = os.pipe() if blocked else (None, None)
        exit_read, exit_write = os.pipe() if user_network else (None, None)
        network_fds = tuple(fd for fd in (block_read, exit_write) if fd is not None)
        program = container_filter()
        seccomp = tuple(_data_fds({"seccomp": program}).values()) if program is not None else ()
        limits = spec.limits if group is None else replace(spec.limits, processes=None)
        read_end, write_end = os.pipe()
        try:
            argv = bwrap_argv(
                self.bwrap,
                spec.argv,
                opt_ml=Path(spec.opt_ml),
                mounts=spec.mounts(),
                writable=spec.writable,
                copies=copies,
                workdir=self.inside_path(spec, workdir),
                info_fd=write_end,
                identity=identity,
                limits=limits,
                etc_fds=etc_fds,
                seccomp_fd=seccomp[0] if seccomp else None,
                network_isolated=spec.network_isolated or (self.slirp is None and not self.host_network),
                block_fd=block_read,
                hostname=spec.hostname,
            )
            fds = (write_end, *copies_and_etc.values(), *network_fds, *seccomp)
            join = group.join_files if group is not None else ()
            popen = run_in_spawner(_launcher(argv, env, "/", stdout, stderr, pass_fds=fds, join=join))
        except BaseException:
            if group is not None:
                group.remove()
            raise
        finally:
            for fd in (write_end, *copies_and_etc.values(), *network_fds, *seccomp):
                os.close(fd)
        try:
            info = _read_info(read_end)
        finally:
            os.close(read_end)
        problem = None
        if blocked:
            assert block_write is not None
            info, problem = self._network_up(spec, info, exit_read)
        process = ContainerProcess(popen, name=spec.name, sandboxed=True, sandbox_info=info,
                                   on_exit=lambda: release_identity(key), hold_fd=block_write)
        if problem is None and not spec.held:
            process.release()
        _watch(process, spec, group)
        if problem is not None:
            process.kill()
            raise ContainerStartError(f"{spec.name}: {problem}")
        if info is None:
            code = process.wait(5.0)
            if code is None:
                code = process.kill()
            where = f"; see {spec.stderr_path or spec.stdout_path}" if spec.stdout_path else ""
            raise ContainerStartError(f"{spec.name}: the sandbox failed to start (bwrap exit {code}){where}")
        if not spec.held and not process.wait_started() and process.poll() is None:
            logger.warning(
                "%s: bwrap did not finish its setup in time; dying with the server is not assured", spec.name
            )
        return process

    def _new_group(self, spec: ContainerSpec) -> ContainerGroup | None:
        if self.cgroups is None:
            return None
        try:
            return self.cgroups.create(spec.name, spec.limits)
        except CgroupError as exc:
            raise ContainerStartError(f"{spec.name}: {exc}") from None

    def _network_up(self, spec: ContainerSpec, info: dict[str, int] | None,
                    exit_read: int | None) -> tuple[dict[str, int] | None, str | None]:
        """Wire the started sandbox to its job network and bring its user-mode network up (its program
        still waits); ``(info, None)``, ``(None, None)`` when the sandbox failed, or ``(info, problem)``
        when the job network could not take it."""
        try:
            if info is None:
                return None, None
            pid = int(info["child-pid"])
            if spec.attach_network is not None:
                wait_for_loopback(pid)
                try:
                    spec.attach_network(pid)
                except Exception as exc:  # noqa: BLE001  (the hook's own error, reported as the start's)
                    return info, str(exc)
            if exit_read is not None:
                assert self.slirp is not None
                try:
                    start_user_network(self.slirp, pid, exit_read, spawn_helper)
                except (UserNetworkError, OSError, subprocess.SubprocessError) as exc:
                    logger.error("%s: %s", spec.name, exc)
                    return None, None
            return info, None
        finally:
            if exit_read is not None:
                os.close(exit_read)

    def _environment(self, spec: ContainerSpec) -> dict[str, str]:
        env = {name: os.environ[name] for name in BASIC_VARIABLES if name in os.environ}
        if self.sandboxed:
            env["HOME"] = "/tmp"
        env.update(spec.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env


def _watch(process: ContainerProcess, spec: ContainerSpec, group: ContainerGroup | None) -> None:
    """Start the container's watchdog (OOM kills, disk budget, group removal) when it has work."""
    roots = [Path(spec.opt_ml), *(Path(m.host) for m in spec.mounts() if m.writable)]
    watch = LimitWatch(process, group=group, limits=spec.limits, disk_roots=roots, note=spec.note)
    if watch.needed:
        watch.start()
        process.watch = watch


def _check(spec: ContainerSpec, *, sandboxed: bool) -> None:
    if not spec.argv:
        raise ContainerStartError(f"{spec.name}: empty argv")
    missing = [m.host for m in spec.mounts() if not os.path.exists(m.host)]
    if missing:
        raise ContainerStartError(f"{spec.name}: bind source(s) do not exist: {', '.join(missing)}")
    if not sandboxed:
        return
    problems = [writable_problem(path, spec.writable) for path in spec.writable]
    if any(problems):
        raise ContainerStartError(f"{spec.name}: writable directory {'; '.join(p for p in problems if p)}")
    unmountable = [m.inside for m in spec.mounts() if not _mountable(m.inside, spec.writable)]
    if unmountable:
        raise ContainerStartError(
            f"{spec.name}: cannot mount at {', '.join(unmountable)}: inside paths must be absolute "
            f"and exist on the host (the root is read-only) or lie under /opt, /tmp or a writable directory"
        )
    hidden = _hidden_program(spec)
    if hidden:
        raise ContainerStartError(
            f"{spec.name}: {hidden} is under /tmp, which is private in the sandbox: keep environments "
            f"and programs elsewhere, or add a read-only bind of their directory at the same path"
        )


def _with_program_paths(spec: ContainerSpec) -> ContainerSpec:
    covered = [m.inside for m in spec.mounts()]
    extra = [(path, path) for path in program_paths(spec.argv[0]) if os.path.exists(path)
             if not any(path == inside or path.startswith(inside.rstrip("/") + "/") for inside in covered)]
    return replace(spec, ro_binds=[*spec.ro_binds, *extra]) if extra else spec


def _link_targets(directory: Path | str) -> list[str]:
    """Where the symlinked directories directly in ``directory`` lead (the toolkit's shim)."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    return [os.path.realpath(entry.path) for entry in entries if entry.is_symlink() and entry.is_dir()]


def spawn_helper(argv: list[str], fds: tuple[int, ...] = (), output: IO[bytes] | None = None,
                 userns: int | None = None) -> subprocess.Popen[bytes]:
    """Start one of modelyard's own helper programs (the server's, outside any sandbox) that dies with the
    server; ``output`` takes its stdout and stderr (None discards them); ``userns``: a user namespace it
    runs in (a normal-user server's slirp4netns, in the one owning the sandbox's network)."""
    return run_in_spawner(_launcher(argv, dict(os.environ), "/", output, output, pass_fds=fds, userns=userns))


def _hand_over(directories: list[Path], uid: int) -> None:
    """Give the container's writable host directories (and what they hold) to its uid."""
    for directory in directories:
        if not directory.is_dir():
            continue
        os.chown(directory, uid, uid)
        for root, dirs, files in os.walk(directory):
            for name in [*dirs, *files]:
                os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


def _data_fds(contents: Mapping[str, str | bytes]) -> dict[str, int]:
    """Descriptors (pipes, already filled and closed for writing) holding ``contents``."""
    fds = {}
    for path, text in contents.items():
        read_end, write_end = os.pipe()
        os.write(write_end, text.encode() if isinstance(text, str) else text)
        os.close(write_end)
        fds[path] = read_end
    return fds


def _open_copies(paths: list[str]) -> dict[str, int]:
    copies = {}
    for path in paths:
        try:
            copies[path] = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
    return copies


def _hidden_program(spec: ContainerSpec) -> str | None:
    program = os.path.normpath(spec.argv[0])
    if not program.startswith("/tmp/"):
        return None
    covered = [m.inside for m in spec.mounts()]
    if any(program == inside or program.startswith(inside.rstrip("/") + "/") for inside in covered):
        return None
    return program


def _mountable(inside: str, writable: list[str]) -> bool:
    path = os.path.normpath(inside)
    if not os.path.isabs(path):
        return False
    return path.startswith(("/opt/", "/tmp/")) or os.path.exists(path) or within_writable(path, writable)


def _open_logs(spec: ContainerSpec) -> tuple[Any, Any]:
    if spec.capture_output:
        return subprocess.PIPE, subprocess.STDOUT
    if spec.stdout_path is None:
        return None, None
    Path(spec.stdout_path).parent.mkdir(parents=True, exist_ok=True)
    stdout = open(spec.stdout_path, "ab", buffering=0)  # noqa: SIM115
    if spec.stderr_path is None or Path(spec.stderr_path) == Path(spec.stdout_path):
        return stdout, stdout
    Path(spec.stderr_path).parent.mkdir(parents=True, exist_ok=True)
    return stdout, open(spec.stderr_path, "ab", buffering=0)  # noqa: SIM115


def _launcher(
    argv: list[str],
    env: dict[str, str],
    cwd: str,
    stdout: IO[bytes] | None,
    stderr: IO[bytes] | None,
    pass_fds: tuple[int, ...] = (),
    join: tuple[str, ...] = (),
    userns: int | None = None,
) -> Callable[[], subprocess.Popen[bytes]]:
    """``join``: the ``cgroup.procs`` files the child writes itself into before exec; ``userns``: a
    user namespace (descriptor) the child enters before exec."""
    parent = os.getpid()
    libc = _libc()

    def prepare_child() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(137)
        join_group(join)
        lower_priority()
        if userns is not None and libc.setns(userns, _CLONE_NEWUSER) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"cannot enter the sandbox's user namespace: {os.strerror(error)}")

    def launch() -> subprocess.Popen[bytes]:
        sink: Any = subprocess.DEVNULL
        return subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=stdout if stdout is not None else sink,
            stderr=stderr if stderr is not None else sink,
            start_new_session=True,
            preexec_fn=prepare_child,
            pass_fds=pass_fds,
        )

    return launch


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _read_info(fd: int) -> dict[str, int] | None:
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], _INFO_TIMEOUT)
        if not ready:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    try:
        info = json.loads(b"".join(chunks) or b"null")
    except ValueError:
        return None
    return info if isinstance(info, dict) and "child-pid" in info else None
