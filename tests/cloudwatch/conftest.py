"""Helpers of the CloudWatch tests (the shared servers flush metrics and evaluate alarms within a
fraction of a second: see tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.1) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last  # type: ignore[no-any-return]
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value {last!r}")


def endpoint_statistic(cw: Any, namespace: str, endpoint: str, name: str, statistic: str = "Sum") -> float | None:
    """``statistic`` of an endpoint metric (variant AllTraffic) over the last half hour, one datapoint."""
    now = dt.datetime.now(dt.timezone.utc)
    points = cw.get_metric_statistics(
        Namespace=namespace, MetricName=name, Period=3600, Statistics=[statistic],
        StartTime=now - dt.timedelta(minutes=30), EndTime=now + dt.timedelta(minutes=30),
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}],
    )["Datapoints"]
    return points[0][statistic] if points else None
