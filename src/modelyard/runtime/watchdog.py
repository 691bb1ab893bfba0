"""A thread per running container that enforces what the kernel does not: the container as a whole.

::

    every 0.25 s   the group's OOM-kill count (cgroups): any kill → the whole container is killed
    every ≥ 2 s    the disk its writable host directories hold (``disk_usage``): over → killed
    on exit        a last OOM check (the kernel may have killed the main process itself) and a last
                   disk measure (a fast writer may finish between two walks), then the group is removed

The walk's interval stretches to ten times its own duration, so measuring never takes more than a
tenth of a core. What ended the container (``Breach``) is written to its log through ``note`` and
kept for its owner (``ContainerProcess.limit_exceeded``): an endpoint's log line, a job's FailureReason.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from modelyard.runtime.cgroups import ContainerGroup
from modelyard.runtime.containers import ContainerProcess
from modelyard.runtime.disk_usage import measure
from modelyard.runtime.limits import Breach, Limits, size_text

MEMORY_POLL_SECONDS = 0.25
DISK_INTERVAL_SECONDS = 2.0


class LimitWatch:
    """Watches one container; start with ``start``, read the outcome with ``verdict``."""

    def __init__(self, process: ContainerProcess, *, group: ContainerGroup | None, limits: Limits,
                 disk_roots: Sequence[Path], note: Callable[[str], None] | None = None) -> None:
        self.process = process
        self.group = group
        self.limits = limits
        self.disk_roots = list(disk_roots)
        self.note = note
        self.breach: Breach | None = None
        self._done = threading.Event()
        self._disk_due = time.monotonic() + DISK_INTERVAL_SECONDS
        self._disk_interval = DISK_INTERVAL_SECONDS

    @property
    def needed(self) -> bool:
        """Whether there is anything to watch or clean up."""
        return self.group is not None or self._watch_disk

    @property
    def _watch_disk(self) -> bool:
        return bool(self.disk_roots) and (self.limits.disk_bytes is not None or self.limits.disk_files is not None)

    def start(self) -> None:
        """Watch in a daemon thread until the container ends."""
        threading.Thread(target=self._run, name=f"limits-{self.process.name}", daemon=True).start()

    @property
    def finished(self) -> bool:
        """Whether the watch has made its last check."""
        return self._done.is_set()

    def verdict(self, timeout: float = 5.0) -> Breach | None:
        """The limit that ended the container, once it has ended (waits up to ``timeout`` for the watch
        to finish its last check), or None."""
        if self.process.poll() is not None:
            self._done.wait(timeout)
        return self.breach

    def _run(self) -> None:
        try:
            while self.process.poll() is None:
                breach = self._check()
                if breach is not None:
                    self._end(breach)
                    break
                time.sleep(MEMORY_POLL_SECONDS)
            if self.breach is None and self._oom_killed():
                self._end(self._memory_breach())
            if self.breach is None and self._watch_disk:
                usage = measure(self.disk_roots, max_bytes=self.limits.disk_bytes, max_files=self.limits.disk_files)
                if usage.over:
                    self._end(self._disk_breach(usage.files, usage.too_deep, ended=True))
        finally:
            if self.group is not None:
                self.group.remove()
            self._done.set()

    def _check(self) -> Breach | None:
        if self._oom_killed():
            return self._memory_breach()
        if self._watch_disk and time.monotonic() >= self._disk_due:
            started = time.monotonic()
            usage = measure(self.disk_roots, max_bytes=self.limits.disk_bytes, max_files=self.limits.disk_files)
            took = time.monotonic() - started
            self._disk_interval = max(DISK_INTERVAL_SECONDS, 10 * took)
            self._disk_due = time.monotonic() + self._disk_interval
            if usage.over:
                return self._disk_breach(usage.files, usage.too_deep)
        return None

    def _oom_killed(self) -> bool:
        return self.group is not None and self.group.oom_kills() > 0

    def _memory_breach(self) -> Breach:
        return Breach("memory", f"killed for exceeding its memory limit of {size_text(self.limits.memory_bytes)} "
                                f"(the kernel's OOM killer ended a process of the container)")

    def _disk_breach(self, files: int, too_deep: bool, *, ended: bool = False) -> Breach:
        limits = self.limits
        if too_deep:
            what = "its writable directories nest deeper than the walk follows"
        elif limits.disk_files is not None and files > limits.disk_files:
            what = f"its writable directories hold more than {limits.disk_files} files"
        else:
            what = f"its writable directories (/opt/ml and its outputs) hold more than {size_text(limits.disk_bytes)}"
        how = "over its disk limit when it ended" if ended else "killed for exceeding its disk limit"
        return Breach("disk", f"{how}: {what}")

    def _end(self, breach: Breach) -> None:
        self.breach = breach
        self.process.kill()
        if self.note is not None:
            with contextlib.suppress(OSError, ValueError):
                self.note(f"the container was {breach.message}")
