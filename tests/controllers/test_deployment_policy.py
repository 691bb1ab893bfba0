"""DeploymentConfig read as steps: traffic shares of blue/green, rolling batches, shadow sampling."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.controllers.endpoints.shadow import shadow_sampling
from modelyard.desired.deployment_policy import DeploymentPolicy


def _blue_green(kind: str, size_type: str | None = None, value: int = 0, **extra: Any) -> DeploymentPolicy:
    routing: dict[str, Any] = {"Type": kind, "WaitIntervalInSeconds": 5}
    if size_type:
        routing["CanarySize" if kind == "CANARY" else "LinearStepSize"] = {"Type": size_type, "Value": value}
    return DeploymentPolicy.from_document({"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing,
                                                                     **extra}})


@pytest.mark.parametrize(("policy", "fleet", "shares"), [
    (_blue_green("ALL_AT_ONCE"), 4, [1.0]),
    (_blue_green("CANARY", "INSTANCE_COUNT", 1), 4, [0.25, 1.0]),
    (_blue_green("CANARY", "CAPACITY_PERCENT", 10), 3, [0.1, 1.0]),
    (_blue_green("LINEAR", "CAPACITY_PERCENT", 50), 2, [0.5, 1.0]),
    (_blue_green("LINEAR", "CAPACITY_PERCENT", 30), 5, [0.3, 0.6, 0.9, 1.0]),
    (_blue_green("LINEAR", "INSTANCE_COUNT", 1), 4, [0.25, 0.5, 0.75, 1.0]),
])
def test_blue_green_traffic_shares(policy: DeploymentPolicy, fleet: int, shares: list[float]) -> None:
    assert policy.shares(fleet) == shares


def test_rolling_batches_and_rollback_batches() -> None:
    policy = DeploymentPolicy.from_document({"RollingUpdatePolicy": {
        "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 40}, "WaitIntervalInSeconds": 0,
        "RollbackMaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 2}}})
    assert policy.batches(5) == [2, 2, 1]
    assert policy.rollback_batches(3) == [2, 1]
    without = DeploymentPolicy.from_document({"RollingUpdatePolicy": {
        "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1}, "WaitIntervalInSeconds": 0}})
    assert without.batches(3) == [1, 1, 1] and without.rollback_batches(3) == [3]


def test_what_needs_a_guarded_update() -> None:
    assert not DeploymentPolicy.from_document(None).guarded
    assert not DeploymentPolicy.from_document({"BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}}}).guarded
    assert _blue_green("ALL_AT_ONCE").guarded
    assert DeploymentPolicy.from_document({"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a"}]}}).guarded


@pytest.mark.parametrize(("shadow", "production", "sampling"), [(0.5, 1.0, 0.5), (1.0, 1.0, 1.0), (3.0, 1.0, 1.0),
                                                                 (0.0, 1.0, 0.0), (1.0, 0.0, 1.0)])
def test_shadow_sampling_is_its_weight_against_production(shadow: float, production: float, sampling: float) -> None:
    assert shadow_sampling(shadow, production) == sampling
