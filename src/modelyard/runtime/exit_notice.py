"""Learn that a local process ended from the event loop, so asking whether it still runs costs no system call.

A pidfd (Linux 5.3+) becomes readable when its process exits; the loop's reader callback marks the notice.
A hot path (a multi-model hit, which asks about its model's process on every call) reads one attribute
instead of calling ``waitpid``. The notice arrives on the loop's next turn after the exit: a call handled
in the turn the process died may still be sent to it, and fails as a call to a process dying under it
always could (a ``waitpid`` just before sending had the same window, only shorter). Where there is no
pidfd (an older kernel, a process already reaped), ``watch`` returns None and callers poll as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import os


class ExitNotice:
    """Set ``ended`` once the watched process has exited (read on the loop that made the notice)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        self.ended = False
        self._loop = loop
        self._fd: int | None = fd

    @classmethod
    def watch(cls, pid: int) -> ExitNotice | None:
        """A notice for ``pid``, a process of this machine, on the running loop; None where pidfds cannot
        watch it."""
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            return None
        loop = asyncio.get_running_loop()
        notice = cls(loop, fd)
        try:
            loop.add_reader(fd, notice._exited)
        except (NotImplementedError, OSError, ValueError):
            os.close(fd)
            return None
        return notice

    def _exited(self) -> None:
        self.ended = True
        self.close()

    def close(self) -> None:
        """Stop watching (the descriptor is closed; ``ended`` keeps its value)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(RuntimeError, ValueError, OSError):
            self._loop.remove_reader(fd)
        os.close(fd)
