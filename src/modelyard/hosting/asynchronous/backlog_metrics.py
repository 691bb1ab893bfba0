"""Publishes the asynchronous queue's backlog gauges as SageMaker does (namespace AWS/SageMaker,
dimension EndpointName): ApproximateBacklogSize, ApproximateBacklogSizePerInstance,
ApproximateAgeOfOldestRequest and HasBacklogWithoutCapacity, the metric an autoscaling alarm watches
to wake an endpoint scaled to zero. A metrics-hub sampler: it runs in the flush thread."""

from __future__ import annotations

import time
from collections.abc import Callable

from modelyard.metrics.buffer import MetricBuffer
from modelyard.metrics.endpoint_meter import ENDPOINT_NAMESPACE
from modelyard.metrics.series import SeriesKey

GAUGES = {"ApproximateBacklogSize": "Count", "ApproximateBacklogSizePerInstance": "Count",
          "ApproximateAgeOfOldestRequest": "Seconds", "HasBacklogWithoutCapacity": "Count"}

Endpoints = Callable[[], list[tuple[str, str, str]]]
"""(account, region, endpoint) of every asynchronous endpoint."""
Figures = Callable[[str, str, str], dict[str, float]]
"""An endpoint's backlog figures now (``AsyncDrainer.backlog_figures``)."""


class BacklogSampler:
    """Puts each asynchronous endpoint's backlog gauges into the metric buffer when called."""

    def __init__(self, endpoints: Endpoints, figures: Figures) -> None:
        self.endpoints = endpoints
        self.figures = figures

    def __call__(self, buffer: MetricBuffer) -> None:
        """Sample every asynchronous endpoint once."""
        now = time.time()
        for account, region, endpoint in self.endpoints():
            figures = self.figures(account, region, endpoint)
            for name, unit in GAUGES.items():
                series = SeriesKey(account, region, ENDPOINT_NAMESPACE, name, (("EndpointName", endpoint),))
                buffer.put_values(series, now, unit, [figures[name]])
