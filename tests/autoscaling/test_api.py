"""Application Auto Scaling through boto3 against a real server, on SQLite and PostgreSQL: every
operation modelyard serves, its stored results, and its refusals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.autoscaling.conftest import DIMENSION, NAMESPACE, Deployed, error, resource, target

ROLE = ("arn:aws:iam::000000000000:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint")
TRACKING = {"TargetValue": 70.0, "PredefinedMetricSpecification": {
    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}


@pytest.fixture()
def aas(deployed: Deployed) -> Iterator[Any]:
    """An application-autoscaling client; the endpoint's target is deregistered after the test."""
    client = deployed.client("application-autoscaling")
    yield client
    if client.describe_scalable_targets(ServiceNamespace=NAMESPACE, ResourceIds=[resource(deployed.endpoint)])[
            "ScalableTargets"]:
        client.deregister_scalable_target(**target(deployed.endpoint))


def test_register_describe_change_and_deregister(aas: Any, deployed: Deployed) -> None:
    arn = aas.register_scalable_target(**target(deployed.endpoint), MinCapacity=1, MaxCapacity=3)["ScalableTargetARN"]
    assert arn.startswith("arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target/")
    [shown] = aas.describe_scalable_targets(ServiceNamespace=NAMESPACE)["ScalableTargets"]
    assert shown["ResourceId"] == resource(deployed.endpoint) and shown["ScalableDimension"] == DIMENSION
    assert (shown["MinCapacity"], shown["MaxCapacity"], shown["RoleARN"]) == (1, 3, ROLE)
    assert shown["SuspendedState"] == {"DynamicScalingInSuspended": False, "DynamicScalingOutSuspended": False,
                                       "ScheduledScalingSuspended": False}

    again = aas.register_scalable_target(**target(deployed.endpoint), MaxCapacity=4,
                                         SuspendedState={"DynamicScalingInSuspended": True})
    assert again["ScalableTargetARN"] == arn
    [changed] = aas.describe_scalable_targets(ServiceNamespace=NAMESPACE, ResourceIds=[resource(deployed.endpoint)],
                                              ScalableDimension=DIMENSION)["ScalableTargets"]
    assert (changed["MinCapacity"], changed["MaxCapacity"]) == (1, 4)
    assert changed["SuspendedState"]["DynamicScalingInSuspended"] is True
    assert changed["CreationTime"] == shown["CreationTime"]
    assert aas.describe_scalable_targets(ServiceNamespace=NAMESPACE, ResourceIds=["endpoint/x/variant/y"])[
        "ScalableTargets"] == []

    aas.deregister_scalable_target(**target(deployed.endpoint))
    assert aas.describe_scalable_targets(ServiceNamespace=NAMESPACE)["ScalableTargets"] == []
    code, message = error(aas.deregister_scalable_target, **target(deployed.endpoint))
    assert code == "ObjectNotFoundException" and "No scalable target registered" in message


@pytest.mark.parametrize(("change", "words"), [
    ({"ServiceNamespace": "ecs", "ResourceId": "service/default/web", "ScalableDimension": "ecs:service:DesiredCount"},
     "Unsupported service namespace ecs"),
    ({"ScalableDimension": "sagemaker:variant:DesiredProvisionedConcurrency"}, "Unsupported scalable dimension"),
    ({"ResourceId": "endpoint/only-a-name"}, "endpoint/<EndpointName>/variant/<VariantName>"),
    ({"ResourceId": "endpoint/no-such-endpoint/variant/AllTraffic"}, 'Could not find endpoint "no-such-endpoint"'),
    ({"ResourceId": "VARIANT"}, 'The variant name "Other" of resource'),
    ({"MinCapacity": 3, "MaxCapacity": 2}, "cannot be greater than maximum capacity"),
    ({"MinCapacity": 0}, "only asynchronous endpoints can scale to zero"),
    ({"MinCapacity": None, "MaxCapacity": None}, "must be specified when registering a new scalable target"),
    ({"MaxCapacity": 5000}, "cannot exceed 1000"),
    ({"Tags": {"team": "ml"}}, "Tags"),
])
def test_bad_targets_are_refused(aas: Any, deployed: Deployed, change: dict[str, Any], words: str) -> None:
    request: dict[str, Any] = {**target(deployed.endpoint), "MinCapacity": 1, "MaxCapacity": 2, **change}
    if request["ResourceId"] == "VARIANT":
        request["ResourceId"] = resource(deployed.endpoint, "Other")
    code, message = error(aas.register_scalable_target, **{k: v for k, v in request.items() if v is not None})
    assert code == "ValidationException" and words in message, message
    assert aas.describe_scalable_targets(ServiceNamespace=NAMESPACE)["ScalableTargets"] == []


def test_other_namespaces_and_operations_are_refused(aas: Any) -> None:
    assert error(aas.describe_scalable_targets, ServiceNamespace="dynamodb")[0] == "ValidationException"
    assert error(aas.describe_scaling_policies, ServiceNamespace="ecs")[0] == "ValidationException"
    code, message = error(aas.put_scheduled_action, ServiceNamespace=NAMESPACE, ScheduledActionName="nightly",
                          ResourceId="endpoint/x/variant/y", ScalableDimension=DIMENSION, Schedule="rate(1 day)")
    assert code == "NotImplemented" and "PutScheduledAction" in message


def test_target_tracking_policy_owns_two_alarms(aas: Any, deployed: Deployed) -> None:
    cw = deployed.client("cloudwatch")
    aas.register_scalable_target(**target(deployed.endpoint), MinCapacity=1, MaxCapacity=3)
    put = aas.put_scaling_policy(PolicyName="per-instance", **target(deployed.endpoint),
                                 PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=TRACKING)
    arn = put["PolicyARN"]
    assert arn.startswith("arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:")
    assert arn.endswith(f":resource/sagemaker/{resource(deployed.endpoint)}:policyName/per-instance")
    names = sorted(alarm["AlarmName"] for alarm in put["Alarms"])
    prefix = f"TargetTracking-{resource(deployed.endpoint)}-"
    assert names[0].startswith(prefix + "AlarmHigh-") and names[1].startswith(prefix + "AlarmLow-")
    alarms = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]}
    high, low = alarms[names[0]], alarms[names[1]]
    for alarm in (high, low):
        assert alarm["AlarmActions"] == [arn] and alarm["MetricName"] == "InvocationsPerInstance"
        assert alarm["Namespace"] == "AWS/SageMaker" and alarm["Statistic"] == "Sum" and alarm["Period"] == 60
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"EndpointName": deployed.endpoint,
                                                                       "VariantName": "AllTraffic"}
    assert (high["Threshold"], high["ComparisonOperator"], high["EvaluationPeriods"]) == (
        70.0, "GreaterThanThreshold", 3)
    assert (low["Threshold"], low["ComparisonOperator"], low["EvaluationPeriods"]) == (63.0, "LessThanThreshold", 15)

    [policy] = aas.describe_scaling_policies(ServiceNamespace=NAMESPACE, ResourceId=resource(deployed.endpoint))[
        "ScalingPolicies"]
    assert policy["PolicyARN"] == arn and policy["PolicyType"] == "TargetTrackingScaling"
    config = policy["TargetTrackingScalingPolicyConfiguration"]
    assert (config["ScaleInCooldown"], config["ScaleOutCooldown"], config["DisableScaleIn"]) == (300, 300, False)
    assert sorted(a["AlarmName"] for a in policy["Alarms"]) == names

    replaced = aas.put_scaling_policy(
        PolicyName="per-instance", **target(deployed.endpoint), PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={**TRACKING, "DisableScaleIn": True, "ScaleOutCooldown": 30})
    assert replaced["PolicyARN"] == arn and len(replaced["Alarms"]) == 1
    assert [a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]] == [
        replaced["Alarms"][0]["AlarmName"]]

    aas.delete_scaling_policy(PolicyName="per-instance", **target(deployed.endpoint))
    assert cw.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"] == []
    assert aas.describe_scaling_policies(ServiceNamespace=NAMESPACE)["ScalingPolicies"] == []
    code, message = error(aas.delete_scaling_policy, PolicyName="per-instance", **target(deployed.endpoint))
    assert code == "ObjectNotFoundException" and "policy name: per-instance" in message


def test_customized_metric_and_deregistering_removes_policies(aas: Any, deployed: Deployed) -> None:
    cw = deployed.client("cloudwatch")
    aas.register_scalable_target(**target(deployed.endpoint), MinCapacity=1, MaxCapacity=2)
    custom = {"MetricName": "CPUUtilization", "Namespace": "/aws/sagemaker/Endpoints", "Statistic": "Average",
              "Unit": "Percent", "Dimensions": [{"Name": "EndpointName", "Value": deployed.endpoint},
                                                {"Name": "VariantName", "Value": "AllTraffic"}]}
    put = aas.put_scaling_policy(PolicyName="cpu", **target(deployed.endpoint), PolicyType="TargetTrackingScaling",
                                 TargetTrackingScalingPolicyConfiguration={
                                     "TargetValue": 50.0, "CustomizedMetricSpecification": custom})
    alarms = cw.describe_alarms(AlarmNames=[a["AlarmName"] for a in put["Alarms"]])["MetricAlarms"]
    assert {(a["MetricName"], a["Namespace"], a["Statistic"], a["Unit"]) for a in alarms} == {
        ("CPUUtilization", "/aws/sagemaker/Endpoints", "Average", "Percent")}
    aas.deregister_scalable_target(**target(deployed.endpoint))
    assert cw.describe_alarms(AlarmNames=[a["AlarmName"] for a in put["Alarms"]])["MetricAlarms"] == []
    assert aas.describe_scaling_policies(ServiceNamespace=NAMESPACE)["ScalingPolicies"] == []


STEP = {"AdjustmentType": "ChangeInCapacity", "StepAdjustments": [{"MetricIntervalLowerBound": 0.0,
                                                                   "ScalingAdjustment": 1}]}


@pytest.mark.parametrize(("change", "words"), [
    ({"PolicyType": "PredictiveScaling"}, "Predictive scaling is not supported"),
    ({"PolicyType": "TargetTrackingScaling", "TargetTrackingScalingPolicyConfiguration": {
        "TargetValue": 50.0,
        "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}},
     "Unsupported predefined metric type ECSServiceAverageCPUUtilization"),
    ({"PolicyType": "TargetTrackingScaling", "TargetTrackingScalingPolicyConfiguration": {
        **TRACKING, "CustomizedMetricSpecification": {"MetricName": "m", "Namespace": "n", "Statistic": "Sum"}}},
     "Exactly one of"),
    ({"PolicyType": "TargetTrackingScaling",
      "TargetTrackingScalingPolicyConfiguration": {**TRACKING, "TargetValue": 0.0}},
     "TargetValue must be greater than 0"),
    ({"PolicyType": "TargetTrackingScaling", "TargetTrackingScalingPolicyConfiguration": {
        "TargetValue": 5.0, "CustomizedMetricSpecification": {"Metrics": [{"Id": "m1", "Expression": "a+b"}]}}},
     "Metric math"),
    ({"PolicyType": "TargetTrackingScaling"}, "TargetTrackingScalingPolicyConfiguration is required"),
    ({"StepScalingPolicyConfiguration": {"AdjustmentType": "ChangeInCapacity", "StepAdjustments": [
        {"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 10.0, "ScalingAdjustment": 1},
        {"MetricIntervalLowerBound": 20.0, "ScalingAdjustment": 2}]}}, "cannot overlap or leave gaps"),
    ({"StepScalingPolicyConfiguration": {"AdjustmentType": "ExactCapacity", "StepAdjustments": [
        {"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": -1}]}}, "cannot be negative"),
    ({"StepScalingPolicyConfiguration": {**STEP, "MinAdjustmentMagnitude": 2}}, "PercentChangeInCapacity only"),
    ({"StepScalingPolicyConfiguration": {"AdjustmentType": "ChangeInCapacity", "StepAdjustments": []}},
     "at least one step"),
    ({"StepScalingPolicyConfiguration": STEP, "TargetTrackingScalingPolicyConfiguration": TRACKING},
     "takes only the configuration of its type"),
])
def test_bad_policies_are_refused(aas: Any, deployed: Deployed, change: dict[str, Any], words: str) -> None:
    aas.register_scalable_target(**target(deployed.endpoint), MinCapacity=1, MaxCapacity=2)
    code, message = error(aas.put_scaling_policy, PolicyName="bad", **target(deployed.endpoint), **change)
    assert code == "ValidationException" and words in message, message
    assert aas.describe_scaling_policies(ServiceNamespace=NAMESPACE)["ScalingPolicies"] == []


def test_a_policy_needs_a_registered_target(aas: Any, deployed: Deployed) -> None:
    code, message = error(aas.put_scaling_policy, PolicyName="p", **target(deployed.endpoint),
                          StepScalingPolicyConfiguration=STEP)
    assert code == "ObjectNotFoundException" and resource(deployed.endpoint) in message


def test_step_policy_is_an_alarm_action_and_other_actions_stay_refused(aas: Any, deployed: Deployed) -> None:
    cw = deployed.client("cloudwatch")
    aas.register_scalable_target(**target(deployed.endpoint), MinCapacity=1, MaxCapacity=2)
    arn = aas.put_scaling_policy(PolicyName="step", **target(deployed.endpoint),
                                 StepScalingPolicyConfiguration=STEP)["PolicyARN"]
    [policy] = aas.describe_scaling_policies(ServiceNamespace=NAMESPACE, PolicyNames=["step"])["ScalingPolicies"]
    assert policy["PolicyType"] == "StepScaling" and policy["Alarms"] == []
    assert policy["StepScalingPolicyConfiguration"]["Cooldown"] == 300
    alarm = {"AlarmName": f"{deployed.endpoint}-queue", "Namespace": "App/queue", "MetricName": "Depth",
             "Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1e9,
             "ComparisonOperator": "GreaterThanThreshold"}
    cw.put_metric_alarm(**alarm, AlarmActions=[arn])
    [policy] = aas.describe_scaling_policies(ServiceNamespace=NAMESPACE, PolicyNames=["step"])["ScalingPolicies"]
    assert [a["AlarmName"] for a in policy["Alarms"]] == [alarm["AlarmName"]]
    by_action = cw.describe_alarms(ActionPrefix=arn.split(":scalingPolicy:")[0])["MetricAlarms"]
    assert alarm["AlarmName"] in [a["AlarmName"] for a in by_action]
    assert cw.describe_alarms(ActionPrefix="arn:aws:sns:")["MetricAlarms"] == []
    assert cw.describe_alarms(AlarmNames=[alarm["AlarmName"]])["MetricAlarms"][0]["AlarmActions"] == [arn]

    for action, words in (("arn:aws:sns:us-east-1:000000000000:ops", "SNS"),
                          (arn.replace("000000000000", "111111111111"), "not of this account"),
                          ("arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:nope", "not supported")):
        code, message = error(cw.put_metric_alarm, **alarm, AlarmActions=[action])
        assert code == "ValidationError" and words in message, message
    cw.delete_alarms(AlarmNames=[alarm["AlarmName"]])


def test_paging_and_bad_tokens(aas: Any, deployed: Deployed) -> None:
    aas.register_scalable_target(**target(deployed.endpoint), MinCapacity=1, MaxCapacity=2)
    for name in ("a", "b", "c"):
        aas.put_scaling_policy(PolicyName=name, **target(deployed.endpoint), StepScalingPolicyConfiguration=STEP)
    first = aas.describe_scaling_policies(ServiceNamespace=NAMESPACE, MaxResults=2)
    second = aas.describe_scaling_policies(ServiceNamespace=NAMESPACE, MaxResults=2, NextToken=first["NextToken"])
    assert [p["PolicyName"] for p in first["ScalingPolicies"] + second["ScalingPolicies"]] == ["a", "b", "c"]
    assert "NextToken" not in second
    assert error(aas.describe_scaling_policies, ServiceNamespace=NAMESPACE, NextToken="garbage")[0] == \
        "InvalidNextTokenException"
    assert error(aas.describe_scalable_targets, ServiceNamespace=NAMESPACE, MaxResults=51)[0] == "ValidationException"
    assert error(aas.describe_scaling_activities, ServiceNamespace=NAMESPACE, ResourceId="bad")[0] == \
        "ValidationException"
