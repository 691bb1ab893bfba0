"""The guarantee of issue 14: with eight clients invoking throughout (every call counted), target
tracking on SageMakerVariantInvocationsPerInstance scales an endpoint from 1 to 3 instances under
load and back to 1 when the load falls, and no client call fails.

The server's target-tracking alarms look at one period each (MODELYARD_TARGET_TRACKING_*_PERIODS=1)
so the test takes minutes, not a quarter of an hour; scale-in still waits for a whole quiet minute.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.autoscaling.conftest import NAMESPACE, resource, target
from tests.cloudwatch.conftest import eventually
from tests.conftest import client_for
from tests.hosting.models import deploy, scaler_model
from tests.support.server import ServerProcess, start_server

CLIENTS = 8
TARGET = 20.0
CALM_PAUSE_SECONDS = 30.0


@pytest.fixture(scope="module")
def quick_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose target-tracking alarms evaluate one period (scale out and in)."""
    server = start_server(tmp_path_factory.mktemp("autoscaling-load"), env={
        "MODELYARD_TARGET_TRACKING_OUT_PERIODS": "1", "MODELYARD_TARGET_TRACKING_IN_PERIODS": "1"})
    yield server
    server.stop()


class Load:
    """CLIENTS threads invoking the endpoint until stopped, busily or calmly; outcomes counted."""

    def __init__(self, server: ServerProcess, endpoint: str) -> None:
        self.server = server
        self.endpoint = endpoint
        self.calm = threading.Event()
        self.done = threading.Event()
        self.outcomes: Counter[str] = Counter()
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._client, args=(index,)) for index in range(CLIENTS)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(timeout=120)

    def _client(self, index: int) -> None:
        runtime = client_for(self.server, "sagemaker-runtime")
        while not self.done.is_set():
            try:
                runtime.invoke_endpoint(EndpointName=self.endpoint, ContentType="application/json",
                                        Body=json.dumps({"x": [index]}))
                outcome = "ok"
            except Exception as exc:  # every failure is counted and reported
                outcome = "failed"
                with self.lock:
                    self.failures.append(repr(exc))
            with self.lock:
                self.outcomes[outcome] += 1
            if self.calm.is_set():
                self.done.wait(CALM_PAUSE_SECONDS)


def _counts(sm: Any, endpoint: str) -> tuple[str, int, int]:
    variant = sm.describe_endpoint(EndpointName=endpoint)
    shown = variant["ProductionVariants"][0]
    return variant["EndpointStatus"], shown["CurrentInstanceCount"], shown["DesiredInstanceCount"]


def test_target_tracking_scales_out_and_in_with_no_failed_call(quick_server: ServerProcess, tmp_path: Path,
                                                              unique: str) -> None:
    sm, aas = client_for(quick_server, "sagemaker"), client_for(quick_server, "application-autoscaling")
    deploy(sm, unique, str(scaler_model(tmp_path)))
    aas.register_scalable_target(**target(unique), MinCapacity=1, MaxCapacity=3)
    aas.put_scaling_policy(PolicyName="per-instance", **target(unique), PolicyType="TargetTrackingScaling",
                           TargetTrackingScalingPolicyConfiguration={
                               "TargetValue": TARGET, "ScaleOutCooldown": 0, "ScaleInCooldown": 0,
                               "PredefinedMetricSpecification": {
                                   "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}})
    seen: list[int] = []

    def reaches(count: int) -> bool:
        status, current, desired = _counts(sm, unique)
        if not seen or seen[-1] != current:
            seen.append(current)
        return status == "InService" and current == desired == count

    with Load(quick_server, unique) as load:
        eventually(lambda: reaches(3), timeout=180, interval=0.2)
        busy = load.outcomes["ok"]
        load.calm.set()
        eventually(lambda: reaches(1), timeout=240, interval=0.5)
        time.sleep(1)
    assert load.failures == [] and load.outcomes["failed"] == 0, load.failures[:5]
    assert busy > 2 * TARGET and load.outcomes["ok"] > busy  # 1 -> 3 needs over 2 x TARGET calls in a period
    assert max(seen) == 3 and seen[-1] == 1 and seen == sorted(seen[:seen.index(3) + 1]) + seen[seen.index(3) + 1:]

    activities = aas.describe_scaling_activities(ServiceNamespace=NAMESPACE, ResourceId=resource(unique))[
        "ScalingActivities"]
    assert all(a["StatusCode"] == "Successful" for a in activities)
    assert activities[0]["Description"] == "Setting desired instance count to 1."
    assert "AlarmLow" in activities[0]["Cause"] and "AlarmHigh" in activities[-1]["Cause"]
    assert any(a["Description"] == "Setting desired instance count to 3." for a in activities)
    print(f"calls: {dict(load.outcomes)}; instance counts seen: {seen}; activities: "
          f"{[a['Description'] for a in reversed(activities)]}")
    sm.delete_endpoint(EndpointName=unique)
