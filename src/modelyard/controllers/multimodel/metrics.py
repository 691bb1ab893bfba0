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
Publish = Callable[[str, str, float], None]
"""(metric name, unit, value): one sample to CloudWatch."""


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
    """The metrics of one multi-model instance; each sample also goes to ``publish`` when given."""

    publish: Publish | None = None
    statistics: dict[str, Statistic] = field(default_factory=lambda: {
        name: Statistic() for name in (*TIMINGS, "ModelCacheHit")})
    loaded_model_count: int = 0

    def timing(self, name: str, seconds: float) -> None:
        """Record a duration (in microseconds, as SageMaker reports it)."""
        value = seconds * MICROSECONDS
        self.statistics[name].add(value)
        if self.publish is not None:
            self.publish(name, "Microseconds", value)

    def cache(self, hit: bool) -> None:
        """Record whether a call found its model loaded."""
        value = 1.0 if hit else 0.0
        self.statistics["ModelCacheHit"].add(value)
        if self.publish is not None:
            self.publish("ModelCacheHit", "None", value)

    def as_dict(self) -> dict[str, object]:
        """Every metric by SageMaker's name."""
        shown: dict[str, object] = {name: stat.as_dict() for name, stat in self.statistics.items()}
        shown["LoadedModelCount"] = self.loaded_model_count
        return shown


def publisher(buffer: MetricBuffer, account: str, region: str, endpoint: str, variant: str) -> Publish:
    """Samples into ``buffer`` under ``AWS/SageMaker`` with the variant's EndpointName and VariantName."""
    dimensions = (("EndpointName", endpoint), ("VariantName", variant))
    series: dict[str, SeriesKey] = {}

    def publish(name: str, unit: str, value: float) -> None:
        key = series.get(name)
        if key is None:
            key = series[name] = SeriesKey(account, region, ENDPOINT_NAMESPACE, name, dimensions)
        buffer.put_values(key, time.time(), unit, (value,))

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
