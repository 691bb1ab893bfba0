"""How much memory a running container holds: the resident set of its processes.

Summed over the container's own processes from ``/proc/<pid>/statm``, so it reads the same with
cgroups v2, v1 or none (page cache is not counted); pages shared between the processes are counted once
per process, which overstates a forking server a little and never understates it.
"""

from __future__ import annotations

import os

from modelyard.runtime.cgroups import ContainerGroup
from modelyard.runtime.containers import ContainerProcess

_PAGE = os.sysconf("SC_PAGE_SIZE")


def pid_resident_bytes(pid: int) -> int:
    """The resident set of one process in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            fields = handle.read().split()
    except OSError:
        return 0
    return int(fields[1]) * _PAGE if len(fields) > 1 else 0


def resident_bytes(process: ContainerProcess) -> int:
    """The resident set of every process of the container, in bytes (0 once it has ended); the pids come
    from the container's cgroup when it has one (a read of ``cgroup.procs``, where the pid namespace
    would take a walk over all of ``/proc``)."""
    group: ContainerGroup | None = getattr(process.watch, "group", None)
    pids = group.pids() if group is not None and process.poll() is None else process.pids()
    return sum(pid_resident_bytes(pid) for pid in pids)
