"""Training jobs' metric-definition values, published as SageMaker does: namespace
``/aws/sagemaker/TrainingJobs``, dimension ``Host`` = ``<job name>/algo-K`` (the host whose log held it),
one sample per value found."""

from __future__ import annotations

from collections.abc import Callable

from modelyard.metrics.buffer import MetricBuffer
from modelyard.metrics.series import NO_UNIT, SeriesKey

TRAINING_NAMESPACE = "/aws/sagemaker/TrainingJobs"
HOST = "algo-1"


def training_metric_listener(buffer: MetricBuffer, account: str, region: str, job: str,
                             host: str = HOST) -> Callable[[str, float, float], None]:
    """A ``MetricTracker`` listener putting each value of ``host``'s log into ``buffer``."""
    dimensions = (("Host", f"{job}/{host}"),)

    def publish(name: str, value: float, timestamp: float) -> None:
        buffer.put_values(SeriesKey(account, region, TRAINING_NAMESPACE, name, dimensions), timestamp, NO_UNIT,
                          [value])

    return publish
