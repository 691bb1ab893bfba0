"""The metrics of a multi-model instance, under SageMaker's names, kept for ``modelyard endpoints --models``
and published to CloudWatch.

SageMaker publishes, per endpoint and variant (namespace ``AWS/SageMaker``, dimensions EndpointName and
VariantName), ``ModelLoadingWaitTime``, ``ModelDownloadingTime``, ``ModelLoadingTime``,
``ModelUnloadingTime`` (microseconds) and ``ModelCacheHit`` (1 per call that found its model loaded, 0
otherwise: the average is the hit ratio); and per instance, under ``/aws/sagemaker/Endpoints``,
``LoadedModelCount`` (one sample per instance each sampling interval: Average is the instances' mean).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from modelyard.metrics.buffer import MetricBuffer
from modelyard.metrics.endpoint_meter import ENDPOINT_NAMESPACE
from modelyard.metrics.instance_usage import INSTANCE_NAMESPACE
from modelyard.metrics.series import SeriesKey

MICROSECONDS = 1_000_000.0
TIMINGS = ("ModelLoadingWaitTime", "ModelDownloadingTime", "ModelLoadingTime", "ModelUnloadingTime")
Publish = Callable[[str, str, float, int], None]
"""(metric name, unit, value, count): ``count`` samples of one value to CloudWatch."""


@dataclass
class Statistic:
    """SampleCount, Sum, Minimum and Maximum of one metric."""

    count: int = 0
    total: float = 0.0
    minimum: float | None = None
    maximum: float | None = None

    def add(self, value: float, count: int = 1) -> None:
        """Record ``count`` samples of ``value``."""
        self.count += count
        self.total += value * count
        self.minimum = value if self.minimum is None else min(self.minimum, value)
        self.maximum = value if self.maximum is None else max(self.maximum, value)

    def as_dict(self) -> dict[str, float | int | None]:
        """CloudWatch's statistic names."""
        return {"SampleCount": self.count, "Sum": self.total, "Minimum": self.minimum, "Maximum": self.maximum,
                "Average": self.total / self.count if self.count else None}


@dataclass
class HostMetrics:
    """The metrics of one multi-model instance; each sample also goes to ``publish`` when given. Cache hits,
    one per call on the hot path, are counted and recorded together by ``flush`` (which the instance calls
    about once a second, and which a miss or ``as_dict`` calls first)."""

    publish: Publish | None = None
    statistics: dict[str, Statistic] = field(default_factory=lambda: {
        name: Statistic() for name in (*TIMINGS, "ModelCacheHit")})
    loaded_model_count: int = 0
    pending_hits: int = 0

    def timing(self, name: str, seconds: float) -> None:
        """Record a duration (in microseconds, as SageMaker reports it)."""
        value = seconds * MICROSECONDS
        self._record(name, "Microseconds", value, 1)

    def cache(self, hit: bool) -> None:
        """Record whether a call found its model loaded (a hit is only counted until ``flush``)."""
        if hit:
            self.pending_hits += 1
            return
        self.flush()
        self._record("ModelCacheHit", "None", 0.0, 1)

    def flush(self) -> None:
        """Record the cache hits counted since the last flush."""
        hits, self.pending_hits = self.pending_hits, 0
        if hits:
            self._record("ModelCacheHit", "None", 1.0, hits)

    def _record(self, name: str, unit: str, value: float, count: int) -> None:
        self.statistics[name].add(value, count)
        if self.publish is not None:
            self.publish(name, unit, value, count)

    def as_dict(self) -> dict[str, object]:
        """Every metric by SageMaker's name (the hits counted so far included)."""
        self.flush()
        shown: dict[str, object] = {name: stat.as_dict() for name, stat in self.statistics.items()}
        shown["LoadedModelCount"] = self.loaded_model_count
        return shown


def publisher(buffer: MetricBuffer, account: str, region: str, endpoint: str, variant: str) -> Publish:
    """Samples into ``buffer`` under ``AWS/SageMaker`` with the variant's EndpointName and VariantName."""
    dimensions = (("EndpointName", endpoint), ("VariantName", variant))
    series: dict[str, SeriesKey] = {}

    def publish(name: str, unit: str, value: float, count: int) -> None:
        key = series.get(name)
        if key is None:
            key = series[name] = SeriesKey(account, region, ENDPOINT_NAMESPACE, name, dimensions)
        buffer.put_values(key, time.time(), unit, (value,), (count,) if count != 1 else None)

    return publish


class LoadedModels(NamedTuple):
    """How many models one multi-model instance holds."""

    account: str
    region: str
    endpoint: str
    variant: str
    loaded: int


class LoadedModelSampler:
    """Puts each multi-model instance's ``LoadedModelCount`` into the metric buffer (a ``MetricsHub`` sampler)."""

    def __init__(self, instances: Callable[[], Iterable[LoadedModels]]) -> None:
        self.instances = instances

    def __call__(self, buffer: MetricBuffer) -> None:
        """One sample per instance."""
        now = time.time()
        for instance in self.instances():
            dimensions = (("EndpointName", instance.endpoint), ("VariantName", instance.variant))
            buffer.put_values(SeriesKey(instance.account, instance.region, INSTANCE_NAMESPACE, "LoadedModelCount",
                                        dimensions), now, "None", (float(instance.loaded),))
