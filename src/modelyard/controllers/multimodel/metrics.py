"""In-memory counters of a multi-model instance, under SageMaker's metric names.

SageMaker publishes, per endpoint and variant, ``ModelLoadingWaitTime``, ``ModelDownloadingTime``,
``ModelLoadingTime``, ``ModelUnloadingTime`` (microseconds), ``ModelCacheHit`` (1 per call that found
its model loaded, 0 otherwise: the average is the hit ratio) and, per instance, ``LoadedModelCount``.
They are kept here as statistics (count, sum, min, max) until the metrics work publishes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MICROSECONDS = 1_000_000.0
TIMINGS = ("ModelLoadingWaitTime", "ModelDownloadingTime", "ModelLoadingTime", "ModelUnloadingTime")


@dataclass
class Statistic:
    """SampleCount, Sum, Minimum and Maximum of one metric."""

    count: int = 0
    total: float = 0.0
    minimum: float | None = None
    maximum: float | None = None

    def add(self, value: float) -> None:
        """Record one sample."""
        self.count += 1
        self.total += value
        self.minimum = value if self.minimum is None else min(self.minimum, value)
        self.maximum = value if self.maximum is None else max(self.maximum, value)

    def as_dict(self) -> dict[str, float | int | None]:
        """CloudWatch's statistic names."""
        return {"SampleCount": self.count, "Sum": self.total, "Minimum": self.minimum, "Maximum": self.maximum,
                "Average": self.total / self.count if self.count else None}


@dataclass
class HostMetrics:
    """The metrics of one multi-model instance."""

    statistics: dict[str, Statistic] = field(default_factory=lambda: {
        name: Statistic() for name in (*TIMINGS, "ModelCacheHit")})
    loaded_model_count: int = 0

    def timing(self, name: str, seconds: float) -> None:
        """Record a duration (stored in microseconds, as SageMaker reports it)."""
        self.statistics[name].add(seconds * MICROSECONDS)

    def cache(self, hit: bool) -> None:
        """Record whether a call found its model loaded."""
        self.statistics["ModelCacheHit"].add(1.0 if hit else 0.0)

    def as_dict(self) -> dict[str, object]:
        """Every metric by SageMaker's name."""
        shown: dict[str, object] = {name: stat.as_dict() for name, stat in self.statistics.items()}
        shown["LoadedModelCount"] = self.loaded_model_count
        return shown
