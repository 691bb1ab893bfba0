"""A running container process: poll, wait, and stop the SageMaker way (SIGTERM, grace, SIGKILL).

In the sandbox, bwrap itself must not receive the SIGTERM (it would die and take the container down
with SIGKILL at once), so the signal goes to every process of the container's pid namespace except
bwrap's reaper; without the sandbox it goes to the container's process group. Exit codes are
shell-style: a death by signal N reads ``128 + N`` in both modes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from modelyard.runtime.limits import Breach


class LimitVerdict(Protocol):
    """What the backend's watchdog tells about a container (``runtime.watchdog.LimitWatch``)."""

    @property
    def finished(self) -> bool:
        """Whether the watch has made its last check (the container has ended)."""

    def verdict(self, timeout: float = 5.0) -> Breach | None:
        """The limit that ended the container, or None."""


class ContainerProcess:
    """One started container. ``pid`` is the host pid of the launched process (bwrap when sandboxed)."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        *,
        name: str,
        sandboxed: bool,
        sandbox_info: dict[str, int] | None = None,
        on_exit: Callable[[], None] | None = None,
        hold_fd: int | None = None,
    ) -> None:
        """``on_exit`` runs once, when the container is first seen to have ended (e.g. a uid lease's
        release). ``hold_fd``: the write end of the pipe bwrap's ``--block-fd`` waits on; the program
        starts at ``release()``."""
        self._popen = popen
        self._hold_fd = hold_fd
        self._hold_lock = threading.Lock()
        self._on_exit = on_exit
        self._exit_lock = threading.Lock()
        self.name = name
        self.sandboxed = sandboxed
        self.pid = popen.pid
        self.stdout = popen.stdout
        info = sandbox_info or {}
        self._init_pid: int | None = info.get("child-pid")
        self._pid_namespace: int | None = info.get("pid-namespace")
        self.watch: LimitVerdict | None = None
        """Set by the backend when a watchdog enforces the container's limits (``runtime.watchdog``)."""

    @property
    def returncode(self) -> int | None:
        """The exit status once the container has ended (``128 + N`` for a death by signal N)."""
        code = self._popen.returncode
        if code is None:
            return None
        if self._hold_fd is not None:
            self._drop_hold()
        if self._on_exit is not None:
            with self._exit_lock:
                ended, self._on_exit = self._on_exit, None
            if ended is not None:
                ended()
        return 128 - code if code < 0 else code

    def poll(self) -> int | None:
        """The exit status, or None while the container runs."""
        self._popen.poll()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds (forever when None); the exit status, or None if still running."""
        try:
            self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def release(self) -> None:
        """Let a held program start (nothing once released or for a container that was not held)."""
        with self._hold_lock:
            fd, self._hold_fd = self._hold_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.write(fd, b"1")
            os.close(fd)

    def _drop_hold(self) -> None:
        with self._hold_lock:
            fd, self._hold_fd = self._hold_fd, None
        if fd is not None:
            os.close(fd)

    def limit_exceeded(self, timeout: float = 5.0) -> Breach | None:
        """The limit that ended the container (memory, disk), or None; once it has exited, waits up to
        ``timeout`` seconds for the watchdog's last check."""
        return None if self.watch is None else self.watch.verdict(timeout)

    def settled(self) -> bool:
        """Whether the container has ended and its watchdog has made its last check."""
        return self.poll() is not None and (self.watch is None or self.watch.finished)

    def pids(self) -> list[int]:
        """Host pids of the container's own processes (for the sandbox: its pid namespace minus bwrap)."""
        if self.poll() is not None:
            return []
        if self.sandboxed and self._pid_namespace is not None:
            return [pid for pid in _namespace_members(self._pid_namespace) if pid != self._init_pid]
        return [self.pid]

    def wait_started(self, timeout: float = 10.0) -> bool:
        """Wait until the program is launched; in the sandbox, until bwrap's reaper sits in ``wait()``.

        bwrap arms the reaper's die-with-parent signal only after its setup, so a parent that dies
        sooner would leave the sandbox running; once the reaper waits, that window is closed.
        """
        if not self.sandboxed or self._init_pid is None:
            return self.poll() is None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.poll() is not None:
                return False
            try:
                wchan = Path(f"/proc/{self._init_pid}/wchan").read_text().strip()
            except OSError:
                return False
            if self.pids() and wchan == "do_wait":
                return True
            if self.pids() and wchan in ("", "0"):
                time.sleep(0.05)  # the kernel hides wchan here: give the reaper a moment instead
                return True
            time.sleep(0.002)
        return False

    def send_signal(self, signum: int) -> None:
        """Deliver ``signum`` to the container's processes (not to bwrap)."""
        if self.poll() is not None:
            return
        if self.sandboxed and self._pid_namespace is not None:
            for pid in self.pids():
                _quietly(os.kill, pid, signum)
        else:
            _quietly(os.killpg, self.pid, signum)

    def stop(self, grace: float = 30.0) -> int:
        """SIGTERM, up to ``grace`` seconds to exit, then SIGKILL; the exit status."""
        if self.poll() is not None:
            return self.returncode  # type: ignore[return-value]
        self.send_signal(signal.SIGTERM)
        code = self.wait(grace)
        return code if code is not None else self.kill()

    def kill(self) -> int:
        """SIGKILL the whole container at once; the exit status."""
        if self.poll() is None:
            if self.sandboxed and self._init_pid is not None:
                _quietly(os.kill, self._init_pid, signal.SIGKILL)
            _quietly(os.killpg, self.pid, signal.SIGKILL)
        self._popen.wait()
        self._drop_hold()
        return self.returncode  # type: ignore[return-value]

    def __repr__(self) -> str:
        state = "running" if self.returncode is None else f"exited {self.returncode}"
        return f"ContainerProcess({self.name!r}, pid={self.pid}, sandboxed={self.sandboxed}, {state})"


def _namespace_members(namespace: int) -> list[int]:
    target = f"pid:[{namespace}]"
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry.name}/ns/pid") == target:
                members.append(int(entry.name))
        except OSError:
            continue
    return members


def _quietly(function: Callable[..., object], *args: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        function(*args)
