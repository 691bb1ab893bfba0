"""Step scaling on a real endpoint: a user's alarm names the policy, the autoscaler changes the
variant's instance count the way UpdateEndpointWeightsAndCapacities does, records each activity,
keeps the count within MinCapacity..MaxCapacity, and forgets a deleted endpoint's target (on SQLite
and PostgreSQL: activities and the autoscaler's state are stored)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.autoscaling.conftest import NAMESPACE, resource, target
from tests.cloudwatch.conftest import eventually
from tests.conftest import client_for
from tests.hosting.models import deploy, scaler_model
from tests.support.server import ServerProcess


def _count(sm: Any, endpoint: str) -> tuple[int, int] | None:
    described = sm.describe_endpoint(EndpointName=endpoint)
    if described["EndpointStatus"] != "InService":
        return None
    variant = described["ProductionVariants"][0]
    return variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]


def _activities(aas: Any, endpoint: str) -> list[dict[str, Any]]:
    return aas.describe_scaling_activities(  # type: ignore[no-any-return]
        ServiceNamespace=NAMESPACE, ResourceId=resource(endpoint))["ScalingActivities"]


def test_an_alarm_runs_its_step_policy_within_the_target_bounds(any_server: ServerProcess, tmp_path: Path,
                                                                unique: str) -> None:
    sm, aas, cw = (client_for(any_server, name) for name in ("sagemaker", "application-autoscaling", "cloudwatch"))
    deploy(sm, unique, str(scaler_model(tmp_path)))
    aas.register_scalable_target(**target(unique), MinCapacity=1, MaxCapacity=2)
    arn = aas.put_scaling_policy(PolicyName="queue-depth", **target(unique), StepScalingPolicyConfiguration={
        "AdjustmentType": "ChangeInCapacity", "Cooldown": 0, "StepAdjustments": [
            {"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 100.0, "ScalingAdjustment": 1},
            {"MetricIntervalLowerBound": 100.0, "ScalingAdjustment": 3}]})["PolicyARN"]
    namespace = f"App/{unique}"
    cw.put_metric_alarm(AlarmName=unique, Namespace=namespace, MetricName="Depth", Statistic="Maximum", Period=60,
                        EvaluationPeriods=1, Threshold=5.0, ComparisonOperator="GreaterThanThreshold",
                        AlarmActions=[arn])
    cw.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "Depth", "Value": 50.0}])

    assert eventually(lambda: _count(sm, unique) == (2, 2), timeout=120)
    [activity] = eventually(lambda: [a for a in _activities(aas, unique) if a["StatusCode"] == "Successful"],
                            timeout=30)
    assert activity["Description"] == "Setting desired instance count to 2."
    assert activity["Cause"] == f"monitor alarm {unique} in state ALARM triggered policy queue-depth"
    assert activity["EndTime"] >= activity["StartTime"]
    assert len(_activities(aas, unique)) == 1, "the target's maximum (2) stops further steps"

    cw.delete_alarms(AlarmNames=[unique])
    aas.register_scalable_target(**target(unique), MaxCapacity=1)
    assert eventually(lambda: _count(sm, unique) == (1, 1), timeout=60)
    newest = eventually(lambda: (a := _activities(aas, unique)[0]) and a["StatusCode"] == "Successful" and a,
                        timeout=30)
    assert newest["Cause"] == "maximum capacity was set to 1"

    sm.delete_endpoint(EndpointName=unique)
    assert eventually(lambda: not aas.describe_scalable_targets(
        ServiceNamespace=NAMESPACE, ResourceIds=[resource(unique)])["ScalableTargets"], timeout=30)
    assert aas.describe_scaling_policies(ServiceNamespace=NAMESPACE, ResourceId=resource(unique))[
        "ScalingPolicies"] == []


def test_suspended_scale_out_does_not_act(server: ServerProcess, tmp_path: Path, unique: str) -> None:
    sm, aas, cw = (client_for(server, name) for name in ("sagemaker", "application-autoscaling", "cloudwatch"))
    deploy(sm, unique, str(scaler_model(tmp_path)))
    aas.register_scalable_target(**target(unique), MinCapacity=1, MaxCapacity=2,
                                 SuspendedState={"DynamicScalingOutSuspended": True})
    arn = aas.put_scaling_policy(PolicyName="exact", **target(unique), StepScalingPolicyConfiguration={
        "AdjustmentType": "ExactCapacity", "Cooldown": 0, "StepAdjustments": [
            {"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 2}]})["PolicyARN"]
    cw.put_metric_alarm(AlarmName=unique, Namespace=f"App/{unique}", MetricName="Depth", Statistic="Maximum",
                        Period=60, EvaluationPeriods=1, Threshold=0.0, ComparisonOperator="GreaterThanThreshold",
                        AlarmActions=[arn])
    cw.put_metric_data(Namespace=f"App/{unique}", MetricData=[{"MetricName": "Depth", "Value": 7.0}])
    eventually(lambda: cw.describe_alarms(AlarmNames=[unique])["MetricAlarms"][0]["StateValue"] == "ALARM")
    time.sleep(2)
    assert _count(sm, unique) == (1, 1) and _activities(aas, unique) == []
    aas.register_scalable_target(**target(unique), SuspendedState={"DynamicScalingOutSuspended": False})
    assert eventually(lambda: _count(sm, unique) == (2, 2), timeout=120)
    cw.delete_alarms(AlarmNames=[unique])
    sm.delete_endpoint(EndpointName=unique)
