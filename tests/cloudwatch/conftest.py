"""Helpers of the CloudWatch tests (the shared servers flush metrics and evaluate alarms within a
fraction of a second: see tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from tests.conftest import client_for
from tests.support.server import ServerProcess

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


def cloudwatch_deleting_alarms(server: ServerProcess, prefix: str) -> Iterator[Any]:
    """A cloudwatch client (for a fixture to yield from); the alarms named ``prefix``… are deleted after,
    so a shared server does not keep evaluating them for the rest of the session."""
    client = client_for(server, "cloudwatch")
    yield client
    names = [alarm["AlarmName"] for alarm in client.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]]
    if names:
        client.delete_alarms(AlarmNames=names)
def endpoint_statistic(cw: Any, namespace: str, endpoint: str, name: str, statistic: str = "Sum") -> float | None:
    """``statistic`` of an endpoint metric (variant AllTraffic) over the last half hour, one datapoint."""
    now = dt.datetime.now(dt.timezone.utc)
    points = cw.get_metric_statistics(
        Namespace=namespace, MetricName=name, Period=3600, Statistics=[statistic],
        StartTime=now - dt.timedelta(minutes=30), EndTime=now + dt.timedelta(minutes=30),
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}],
    )["Datapoints"]
    return points[0][statistic] if points else None
