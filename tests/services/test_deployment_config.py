"""DeploymentConfig's bad input is refused with SageMaker's ValidationException and a message that says what
to change (canary and linear sizes, rolling batches, policies, variant names, rollback alarms), on SQLite and
PostgreSQL; a good one is recorded as LastDeploymentConfig."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.cloudwatch.conftest import cloudwatch_deleting_alarms
from tests.support.aws_errors import code, error_of, message
from tests.support.server import ServerProcess

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def variant(model: str, name: str = "AllTraffic", count: int = 1) -> dict[str, object]:
    return {"VariantName": name, "ModelName": model, "InstanceType": "ml.m5.large", "InitialInstanceCount": count}


def blue_green(kind: str, size: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    routing: dict[str, Any] = {"Type": kind, "WaitIntervalInSeconds": 5}
    if size is not None:
        routing["CanarySize" if kind == "CANARY" else "LinearStepSize"] = size
    return {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing, **extra}}


def rolling(kind: str, value: int) -> dict[str, Any]:
    return {"RollingUpdatePolicy": {"MaximumBatchSize": {"Type": kind, "Value": value}, "WaitIntervalInSeconds": 5}}


@pytest.fixture()
def cw(any_server: ServerProcess, unique: str) -> Iterator[Any]:
    yield from cloudwatch_deleting_alarms(any_server, unique)


@pytest.fixture()
def configs(sm_any: Any, unique: str) -> Iterator[str]:
    """An endpoint ``unique`` (on config ``unique``, 4 instances), and configs ``<unique>-four`` (4 instances),
    ``<unique>-two`` (2 variants) and ``<unique>-renamed`` (variant B). Its model cannot start, so the endpoint
    never runs: the checks come before the endpoint's status is looked at."""
    sm_any.create_model(ModelName=unique, PrimaryContainer={
        "Image": IMAGE, "ModelDataUrl": "s3://modelyard-absent-bucket/model.tar.gz"})
    sm_any.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[variant(unique, count=4)])
    sm_any.create_endpoint_config(EndpointConfigName=f"{unique}-four", ProductionVariants=[variant(unique, count=4)])
    sm_any.create_endpoint_config(EndpointConfigName=f"{unique}-two", ProductionVariants=[
        variant(unique, "AllTraffic", 2), variant(unique, "B", 2)])
    sm_any.create_endpoint_config(EndpointConfigName=f"{unique}-renamed", ProductionVariants=[variant(unique, "B", 4)])
    sm_any.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    yield unique
    sm_any.delete_endpoint(EndpointName=unique)


@pytest.mark.parametrize(("config", "deployment", "expected"), [
    ("four", blue_green("CANARY", {"Type": "CAPACITY_PERCENT", "Value": 60}),
     "CanarySize 60 % is 60 % of the new fleet's 4 instance(s); CANARY traffic shifting needs a CanarySize of "
     "at most 50 %"),
    ("four", blue_green("CANARY", {"Type": "INSTANCE_COUNT", "Value": 3}), "CanarySize 3 instance(s) is 75 %"),
    ("four", blue_green("CANARY"), "TrafficRoutingConfiguration of Type CANARY needs CanarySize"),
    ("four", blue_green("LINEAR", {"Type": "CAPACITY_PERCENT", "Value": 5}),
     "LinearStepSize of between 10 % and 50 %"),
    ("four", blue_green("LINEAR", {"Type": "INSTANCE_COUNT", "Value": 4}), "LinearStepSize 4 instance(s) is 100 %"),
    ("four", {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
        "Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0, "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}}}},
     "TrafficRoutingConfiguration.CanarySize is only for Type CANARY"),
    ("four", {**blue_green("ALL_AT_ONCE"), **rolling("INSTANCE_COUNT", 1)}, "either BlueGreenUpdatePolicy or "
     "RollingUpdatePolicy"),
    ("four", rolling("INSTANCE_COUNT", 3), "MaximumBatchSize 3 instance(s) is 75 % of variant AllTraffic's 4"),
    ("two", rolling("INSTANCE_COUNT", 1), "RollingUpdatePolicy is for endpoints with one production variant"),
    ("renamed", blue_green("ALL_AT_ONCE"), "keeps the endpoint's variant names"),
    ("four", {"AutoRollbackConfiguration": {"Alarms": [{}]}}, "Every alarm of AutoRollbackConfiguration.Alarms "
     "needs an AlarmName"),
])
def test_update_endpoint_refuses_bad_deployment_config(sm_any: Any, configs: str, config: str,
                                                       deployment: dict[str, Any], expected: str) -> None:
    err = error_of(sm_any.update_endpoint, EndpointName=configs, EndpointConfigName=f"{configs}-{config}",
                   DeploymentConfig=deployment)
    assert code(err) == "ValidationException" and err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert expected in message(err), message(err)


def test_rollback_alarms_must_exist(sm_any: Any, cw: Any, configs: str, unique: str) -> None:
    alarms = {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": f"{unique}-real"},
                                                       {"AlarmName": f"{unique}-ghost"}]}}
    cw.put_metric_alarm(AlarmName=f"{unique}-real", Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors",
                        Dimensions=[{"Name": "EndpointName", "Value": unique}], Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold")
    err = error_of(sm_any.update_endpoint, EndpointName=configs, EndpointConfigName=f"{configs}-four",
                   DeploymentConfig={**blue_green("ALL_AT_ONCE"), **alarms})
    assert code(err) == "ValidationException"
    assert message(err).startswith(f"The alarm(s) ['{unique}-ghost'] specified in AutoRollbackConfiguration do "
                                   "not exist in account 000000000000 region us-east-1"), message(err)
    created = error_of(sm_any.create_endpoint, EndpointName=f"{unique}-new", EndpointConfigName=unique,
                       DeploymentConfig=alarms)
    assert code(created) == "ValidationException" and f"{unique}-ghost" in message(created)
    assert code(error_of(sm_any.describe_endpoint, EndpointName=f"{unique}-new")) == "ValidationException"


def test_create_endpoint_records_its_deployment_config(sm_any: Any, cw: Any, configs: str, unique: str) -> None:
    cw.put_metric_alarm(AlarmName=unique, Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=0,
                        ComparisonOperator="GreaterThanThreshold")
    deployment = {**blue_green("LINEAR", {"Type": "CAPACITY_PERCENT", "Value": 25}, TerminationWaitInSeconds=30),
                  "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": unique}]}}
    sm_any.create_endpoint(EndpointName=f"{unique}-new", EndpointConfigName=unique, DeploymentConfig=deployment)
    try:
        assert sm_any.describe_endpoint(EndpointName=f"{unique}-new")["LastDeploymentConfig"] == deployment
    finally:
        sm_any.delete_endpoint(EndpointName=f"{unique}-new")
