"""One minute of one metric: count, sum, minimum, maximum and (when known) the distribution."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from modelyard.metrics.histogram import Histogram


@dataclass
class Aggregate:
    """Summary statistics of samples; ``histogram`` is None once a statistic set without a known
    distribution was merged in (percentiles are then unavailable, as in CloudWatch)."""

    count: float = 0.0
    total: float = 0.0
    minimum: float = float("inf")
    maximum: float = float("-inf")
    histogram: Histogram | None = field(default_factory=Histogram)

    def add(self, value: float, count: float = 1.0) -> None:
        """Count one value ``count`` times (a count of zero or less adds nothing)."""
        if count <= 0:
            return
        self.count += count
        self.total += value * count
        if value < self.minimum:
            self.minimum = value
        if value > self.maximum:
            self.maximum = value
        if self.histogram is not None:
            self.histogram.add(value, count)

    def add_values(self, values: Sequence[float], counts: Sequence[float] | None = None) -> None:
        """Count each value once, or as often as ``counts`` says."""
        if counts is None:
            for value in values:
                self.add(value)
        else:
            for value, count in zip(values, counts, strict=True):
                self.add(value, count)

    def add_statistic_set(self, count: float, total: float, minimum: float, maximum: float) -> None:
        """Merge a statistic set; its distribution is known only when all its samples are equal."""
        if minimum == maximum:
            self.add(minimum, count)
            self.total += total - minimum * count
            return
        self.merge(Aggregate(count, total, minimum, maximum, None))

    def merge(self, other: Aggregate) -> None:
        """Fold another aggregate of the same metric and minute into this one."""
        self.count += other.count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        if self.histogram is not None and other.histogram is not None:
            self.histogram.merge(other.histogram)
        else:
            self.histogram = None

    def percentile(self, percent: float) -> float | None:
        """The percentile, clamped to [minimum, maximum] (p0 and p100 are exact); None without a
        distribution or samples."""
        if self.histogram is None or self.count <= 0:
            return None
        return clamped_percentile(percent, self.minimum, self.maximum, self.histogram.percentile)


def clamped_percentile(percent: float, minimum: float, maximum: float,
                       read: Callable[[float], float | None]) -> float | None:
    """p0 and p100 exactly (``minimum``, ``maximum``); any other percentile as ``read`` gives it, clamped
    to [minimum, maximum]."""
    if percent >= 100:
        return maximum
    if percent <= 0:
        return minimum
    value = read(percent)
    return None if value is None else min(max(value, minimum), maximum)
