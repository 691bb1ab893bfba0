"""Per-instance CPU, memory and disk utilization of endpoint instances, read from ``/proc`` and the
file system, published as SageMaker does under ``/aws/sagemaker/Endpoints`` (EndpointName, VariantName;
one sample per instance, so Average is the variant's mean and Maximum its busiest instance).

    CPUUtilization     percent of one core, summed over the instance's processes (0-100 x cores)
    MemoryUtilization  resident memory as a percent of the host's memory
    DiskUtilization    used space of the file system holding the instance's directory, in percent

An instance on another machine (a Ray node) is read there (``read_usage``, in its node's answers) and
its latest reading reaches the sampler with it: its memory is a percent of its own node's memory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

from modelyard.metrics.buffer import MetricBuffer
from modelyard.metrics.series import SeriesKey

INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


class UsageReading(NamedTuple):
    """One reading of an instance's processes and disk, taken on the machine they run on."""

    at: float
    """When it was taken (``time.time()`` of that machine)."""
    cpu_seconds: float
    """CPU time used by the instance's processes so far."""
    resident_bytes: int
    memory_total: int
    """The memory of that machine."""
    disk_percent: float | None


@runtime_checkable
class MeasuredElsewhere(Protocol):
    """A process on another machine whose readings arrive with its node's answers."""

    usage: UsageReading | None


class RunningInstance(NamedTuple):
    """What the sampler needs of one running endpoint instance."""

    account: str
    region: str
    endpoint: str
    variant: str
    instance_id: str
    pids: list[int]
    directory: Path
    reading: UsageReading | None = None
    """The latest reading taken on another machine; None: read ``pids`` and ``directory`` here."""


def read_usage(pids: Iterable[int], directory: Path) -> UsageReading:
    """A reading of processes ``pids`` and the file system holding ``directory``, on this machine."""
    pids = list(pids)
    return UsageReading(time.time(), sum(_cpu_seconds(pid) for pid in pids),
                        sum(_resident_bytes(pid) for pid in pids), _memory_total(), _disk_percent(directory))


class InstanceUsageSampler:
    """Samples every running instance; CPU is the share of time used since the previous sample."""

    def __init__(self, instances: Callable[[], Iterable[RunningInstance]]) -> None:
        self.instances = instances
        self._cpu: dict[str, tuple[float, float]] = {}

    def __call__(self, buffer: MetricBuffer) -> None:
        """Put one reading of each instance into ``buffer``."""
        now = time.time()
        seen: dict[str, tuple[float, float]] = {}
        for instance in self.instances():
            dimensions = (("EndpointName", instance.endpoint), ("VariantName", instance.variant))

            def put(name: str, value: float, instance: RunningInstance = instance,
                    dimensions: tuple[tuple[str, str], ...] = dimensions) -> None:
                buffer.put_values(SeriesKey(instance.account, instance.region, INSTANCE_NAMESPACE, name, dimensions),
                                  now, "Percent", [value])

            reading = instance.reading or read_usage(instance.pids, instance.directory)
            seen[instance.instance_id] = (reading.at, reading.cpu_seconds)
            previous = self._cpu.get(instance.instance_id)
            if previous is not None and reading.at > previous[0]:
                put("CPUUtilization",
                    max(0.0, (reading.cpu_seconds - previous[1]) / (reading.at - previous[0]) * 100))
            elif previous is not None:
                seen[instance.instance_id] = previous
            if reading.memory_total:
                put("MemoryUtilization", reading.resident_bytes / reading.memory_total * 100)
            if reading.disk_percent is not None:
                put("DiskUtilization", reading.disk_percent)
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
