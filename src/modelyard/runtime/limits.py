"""Resource limits of one container: memory, processes, file size, and the size of its /tmp.

Applied with rlimits (``prlimit`` from util-linux, run right before the program, inherited by its
children) and a size-limited tmpfs for /tmp — not cgroups: this host has cgroup v1 only (no delegated
cgroup v2 hierarchy), and rlimits work the same for a root and a normal-user server.

- memory: RLIMIT_DATA (heap and private anonymous mappings, per process), the instance type's memory
  by default (``INSTANCE_MEMORY``), ``MODELYARD_DEFAULT_MEMORY_MB`` for unknown types.
  ``MODELYARD_MEMORY_LIMIT_MB`` overrides every type (tests, small hosts).
- processes: RLIMIT_NPROC (counts per host uid: per container when the server is root, which gives
  each container a uid of its own; not set for a normal-user server, where it would count the
  server's own threads).
- file size: RLIMIT_FSIZE, a cap on any one file a container writes.
- /tmp: a tmpfs of ``tmp_bytes``.

A breach ends in the program's own error (MemoryError, EAGAIN on fork, EFBIG/SIGXFSZ, ENOSPC), which
reaches its log; the server and other containers are untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

GIB = 1 << 30
MIB = 1 << 20
PRLIMIT = "/usr/bin/prlimit"

INSTANCE_MEMORY = {
    "ml.t2.medium": 4 * GIB, "ml.t2.large": 8 * GIB, "ml.t2.xlarge": 16 * GIB, "ml.t2.2xlarge": 32 * GIB,
    "ml.t3.medium": 4 * GIB, "ml.t3.large": 8 * GIB, "ml.t3.xlarge": 16 * GIB, "ml.t3.2xlarge": 32 * GIB,
    "ml.m4.xlarge": 16 * GIB, "ml.m4.2xlarge": 32 * GIB, "ml.m4.4xlarge": 64 * GIB,
    "ml.m5.large": 8 * GIB, "ml.m5.xlarge": 16 * GIB, "ml.m5.2xlarge": 32 * GIB, "ml.m5.4xlarge": 64 * GIB,
    "ml.m5.12xlarge": 192 * GIB, "ml.m5.24xlarge": 384 * GIB,
    "ml.c4.large": int(3.75 * GIB), "ml.c4.xlarge": int(7.5 * GIB), "ml.c4.2xlarge": 15 * GIB,
    "ml.c5.large": 4 * GIB, "ml.c5.xlarge": 8 * GIB, "ml.c5.2xlarge": 16 * GIB, "ml.c5.4xlarge": 32 * GIB,
    "ml.c5.9xlarge": 72 * GIB, "ml.c5.18xlarge": 144 * GIB,
    "ml.r5.large": 16 * GIB, "ml.r5.xlarge": 32 * GIB, "ml.r5.2xlarge": 64 * GIB,
    "ml.g4dn.xlarge": 16 * GIB, "ml.g4dn.2xlarge": 32 * GIB, "ml.g5.xlarge": 16 * GIB,
    "ml.p3.2xlarge": 61 * GIB,
}  # fmt: skip
DEFAULT_MEMORY = 4 * GIB
DEFAULT_PROCESSES = 1024
DEFAULT_FILE_BYTES = 64 * GIB
DEFAULT_TMP_BYTES = 1 * GIB


@dataclass(frozen=True)
class Limits:
    """Per-container limits; None leaves that resource unlimited."""

    memory_bytes: int | None = DEFAULT_MEMORY
    processes: int | None = DEFAULT_PROCESSES
    file_bytes: int | None = DEFAULT_FILE_BYTES
    tmp_bytes: int | None = DEFAULT_TMP_BYTES

    def prlimit_prefix(self, *, count_processes: bool) -> list[str]:
        """The ``prlimit … --`` command that applies these rlimits to the program it runs."""
        options = []
        if self.memory_bytes is not None:
            options.append(f"--data={self.memory_bytes}")
        if self.processes is not None and count_processes:
            options.append(f"--nproc={self.processes}")
        if self.file_bytes is not None:
            options.append(f"--fsize={self.file_bytes}")
        return [PRLIMIT, *options, "--"] if options else []

    def describe(self) -> str:
        """A one-line summary for the container's log."""
        def size(value: int | None) -> str:
            return "unlimited" if value is None else f"{value // MIB} MiB"
        processes = "unlimited" if self.processes is None else str(self.processes)
        return (f"limits: memory {size(self.memory_bytes)} per process, processes {processes}, "
                f"file size {size(self.file_bytes)}, /tmp {size(self.tmp_bytes)}")


def limits_for(instance_type: str | None) -> Limits:
    """The limits of an instance of ``instance_type`` (memory from the table or the defaults)."""
    override = os.environ.get("MODELYARD_MEMORY_LIMIT_MB")
    if override:
        memory = int(override) * MIB
    else:
        fallback = int(os.environ.get("MODELYARD_DEFAULT_MEMORY_MB", DEFAULT_MEMORY // MIB)) * MIB
        memory = INSTANCE_MEMORY.get(instance_type or "", fallback)
    return Limits(memory_bytes=memory)
