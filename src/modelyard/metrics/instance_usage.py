"""Per-instance CPU, memory and disk utilization of endpoint instances, read from ``/proc`` and the
file system, published as SageMaker does under ``/aws/sagemaker/Endpoints`` (EndpointName, VariantName;
one sample per instance, so Average is the variant's mean and Maximum its busiest instance).

    CPUUtilization     percent of one core, summed over the instance's processes (0-100 x cores)
    MemoryUtilization  resident memory as a percent of the host's memory
    DiskUtilization    used space of the file system holding the instance's directory, in percent
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

from modelyard.metrics.buffer import MetricBuffer
from modelyard.metrics.series import SeriesKey

INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


class RunningInstance(NamedTuple):
    """What the sampler needs of one running endpoint instance."""

    account: str
    region: str
    endpoint: str
    variant: str
    instance_id: str
    pids: list[int]
    directory: Path


class InstanceUsageSampler:
    """Samples every running instance; CPU is the share of time used since the previous sample."""

    def __init__(self, instances: Callable[[], Iterable[RunningInstance]]) -> None:
        self.instances = instances
        self._cpu: dict[str, tuple[float, float]] = {}

    def __call__(self, buffer: MetricBuffer) -> None:
        """Put one reading of each instance into ``buffer``."""
        now = time.time()
        memory_total = _memory_total()
        seen: dict[str, tuple[float, float]] = {}
        for instance in self.instances():
            dimensions = (("EndpointName", instance.endpoint), ("VariantName", instance.variant))

            def put(name: str, value: float, instance: RunningInstance = instance,
                    dimensions: tuple[tuple[str, str], ...] = dimensions) -> None:
                buffer.put_values(SeriesKey(instance.account, instance.region, INSTANCE_NAMESPACE, name, dimensions),
                                  now, "Percent", [value])

            cpu_seconds = sum(_cpu_seconds(pid) for pid in instance.pids)
            seen[instance.instance_id] = (now, cpu_seconds)
            previous = self._cpu.get(instance.instance_id)
            if previous is not None and now > previous[0]:
                put("CPUUtilization", max(0.0, (cpu_seconds - previous[1]) / (now - previous[0]) * 100))
            if memory_total:
                put("MemoryUtilization", sum(_resident_bytes(pid) for pid in instance.pids) / memory_total * 100)
            disk = _disk_percent(instance.directory)
            if disk is not None:
                put("DiskUtilization", disk)
        self._cpu = seen


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _resident_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _memory_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _disk_percent(directory: Path) -> float | None:
    try:
        stats = os.statvfs(directory)
    except OSError:
        return None
    total = stats.f_blocks * stats.f_frsize
    if total <= 0:
        return None
    return (total - stats.f_bavail * stats.f_frsize) / total * 100
