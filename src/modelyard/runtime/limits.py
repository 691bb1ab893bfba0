"""Resource limits of one container: memory, processes, CPU, file size, its /tmp and its disk use.

How they are applied depends on the host (``cgroups`` detects it once):

- **cgroups** (v2 delegated, or v1 writable by a root server): the container's processes share one
  group, so memory (swap not allowed beyond it), processes and a CPU quota hold for the whole
  container however many processes it forks. RLIMIT_DATA at the same memory value stays on each
  process, so one oversized allocation is a MemoryError the program can handle rather than the
  container's death.
- **rlimits** (a normal-user server, or no writable cgroup): ``prlimit`` from util-linux right
  before the program, inherited by its children: RLIMIT_DATA per process, RLIMIT_NPROC (per
  container: a root server gives each container a uid of its own, a normal-user server's container
  has a user namespace of its own, which Linux 5.14 and later count apart; not set for a
  normal-user server on an older kernel, where it would count the server's own threads); CPU is
  only a priority (``priority``).

Always: RLIMIT_FSIZE caps any one file; /tmp is a tmpfs of ``tmp_bytes``; the container's writable
host directories are measured by a watchdog (``watchdog``) against ``disk_bytes`` and ``disk_files``.

Values: memory from the instance type (``INSTANCE_MEMORY``; ``MODELYARD_DEFAULT_MEMORY_MB`` for
unknown types, ``MODELYARD_MEMORY_LIMIT_MB`` overrides every type); CPU the type's vCPUs
(``INSTANCE_VCPUS``) capped at the host's cores (``MODELYARD_CPU_LIMIT`` overrides, in cores);
disk the API's ``VolumeSizeInGB`` when the request gives one, else ``MODELYARD_DEFAULT_DISK_GB``
(``MODELYARD_DISK_LIMIT_MB`` overrides both), at most ``MODELYARD_DISK_FILE_LIMIT`` files.
"""

from __future__ import annotations

import math
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
INSTANCE_VCPUS = {
    "ml.t2.medium": 2, "ml.t2.large": 2, "ml.t2.xlarge": 4, "ml.t2.2xlarge": 8,
    "ml.t3.medium": 2, "ml.t3.large": 2, "ml.t3.xlarge": 4, "ml.t3.2xlarge": 8,
    "ml.m4.xlarge": 4, "ml.m4.2xlarge": 8, "ml.m4.4xlarge": 16,
    "ml.m5.large": 2, "ml.m5.xlarge": 4, "ml.m5.2xlarge": 8, "ml.m5.4xlarge": 16,
    "ml.m5.12xlarge": 48, "ml.m5.24xlarge": 96,
    "ml.c4.large": 2, "ml.c4.xlarge": 4, "ml.c4.2xlarge": 8,
    "ml.c5.large": 2, "ml.c5.xlarge": 4, "ml.c5.2xlarge": 8, "ml.c5.4xlarge": 16,
    "ml.c5.9xlarge": 36, "ml.c5.18xlarge": 72,
    "ml.r5.large": 2, "ml.r5.xlarge": 4, "ml.r5.2xlarge": 8,
    "ml.g4dn.xlarge": 4, "ml.g4dn.2xlarge": 8, "ml.g5.xlarge": 4,
    "ml.p3.2xlarge": 8,
}  # fmt: skip
DEFAULT_MEMORY = 4 * GIB
DEFAULT_VCPUS = 2
DEFAULT_PROCESSES = 1024
DEFAULT_FILE_BYTES = 64 * GIB
DEFAULT_TMP_BYTES = 1 * GIB
DEFAULT_DISK_GB = 30
DEFAULT_DISK_FILES = 200_000


@dataclass(frozen=True)
class Breach:
    """A limit a container went past: ``kind`` is ``memory`` or ``disk``; ``message`` a sentence that
    starts with "killed for exceeding"."""

    kind: str
    message: str


@dataclass(frozen=True)
class Limits:
    """Per-container limits; None leaves that resource unlimited."""

    memory_bytes: int | None = DEFAULT_MEMORY
    processes: int | None = DEFAULT_PROCESSES
    file_bytes: int | None = DEFAULT_FILE_BYTES
    tmp_bytes: int | None = DEFAULT_TMP_BYTES
    cpus: float | None = None
    disk_bytes: int | None = None
    disk_files: int | None = None

    @property
    def vcpus(self) -> int:
        """The vCPUs the container has, as it should report them (``SM_NUM_CPUS``, the model server's
        worker count): its CPU quota rounded up to whole cores, or the host's cores when unlimited."""
        if self.cpus is None:
            return os.cpu_count() or 1
        return max(1, math.ceil(self.cpus))

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

    def describe(self, mechanism: str | None = None) -> str:
        """A one-line summary for the container's log; ``mechanism`` names the cgroup version in use
        (None: rlimits only)."""
        processes = "unlimited" if self.processes is None else str(self.processes)
        if mechanism is None:
            how = "rlimits"
            memory = f"memory {size_text(self.memory_bytes)} per process"
            cpu = "CPU at a lower priority"
        else:
            how = mechanism
            memory = f"memory {size_text(self.memory_bytes)} for the whole container"
            cpu = "CPU unlimited" if self.cpus is None else f"CPU {self.cpus:g} core(s)"
        disk = "disk unlimited" if self.disk_bytes is None else f"disk {size_text(self.disk_bytes)}"
        if self.disk_files is not None:
            disk += f" in at most {self.disk_files} files"
        return (f"limits ({how}): {memory}, processes {processes}, {cpu}, "
                f"file size {size_text(self.file_bytes)}, /tmp {size_text(self.tmp_bytes)}, {disk}")


def size_text(value: int | None) -> str:
    """``value`` bytes in GiB or MiB, or "unlimited"."""
    if value is None:
        return "unlimited"
    if value >= GIB and value % GIB == 0:
        return f"{value // GIB} GiB"
    return f"{value // MIB} MiB"


def limits_for(instance_type: str | None, volume_gb: int | None = None, *, memory_mb: int | None = None) -> Limits:
    """The limits of an instance of ``instance_type`` with a storage volume of ``volume_gb`` (memory
    and vCPUs from the tables or the defaults; see the module's docstring for the overrides).
    ``memory_mb`` is a memory size the user chose (a serverless variant's): it replaces the type's,
    within ``MODELYARD_MEMORY_LIMIT_MB`` when that is set."""
    override = os.environ.get("MODELYARD_MEMORY_LIMIT_MB")
    if memory_mb is not None:
        memory = min(memory_mb, int(override)) * MIB if override else memory_mb * MIB
    elif override:
        memory = int(override) * MIB
    else:
        fallback = int(os.environ.get("MODELYARD_DEFAULT_MEMORY_MB", DEFAULT_MEMORY // MIB)) * MIB
        memory = INSTANCE_MEMORY.get(instance_type or "", fallback)
    cpu_override = os.environ.get("MODELYARD_CPU_LIMIT")
    cpus = float(cpu_override) if cpu_override else float(INSTANCE_VCPUS.get(instance_type or "", DEFAULT_VCPUS))
    cpus = min(cpus, float(os.cpu_count() or 1))
    disk_override = os.environ.get("MODELYARD_DISK_LIMIT_MB")
    if disk_override:
        disk = int(disk_override) * MIB
    else:
        disk = (volume_gb or int(os.environ.get("MODELYARD_DEFAULT_DISK_GB", DEFAULT_DISK_GB))) * GIB
    files = int(os.environ.get("MODELYARD_DISK_FILE_LIMIT", DEFAULT_DISK_FILES))
    return Limits(memory_bytes=memory, cpus=cpus, disk_bytes=disk, disk_files=files)
