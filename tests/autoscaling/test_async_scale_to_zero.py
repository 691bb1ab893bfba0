"""An asynchronous endpoint scales to zero instances when its queue is empty and wakes on a backlog:
step policies on the published backlog metrics (ApproximateBacklogSize, HasBacklogWithoutCapacity),
as SageMaker's documentation sets them up."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from tests.asynchronous.support import deploy_async, wait_for_object
from tests.autoscaling.conftest import NAMESPACE, error, resource, target
from tests.cloudwatch.conftest import eventually
from tests.conftest import client_for
from tests.hosting.models import deploy, scaler_model
from tests.support.server import ServerProcess


def _instances(sm: Any, endpoint: str) -> int | None:
    described = sm.describe_endpoint(EndpointName=endpoint)
    if described["EndpointStatus"] != "InService":
        return None
    return described["ProductionVariants"][0]["CurrentInstanceCount"]  # type: ignore[no-any-return]


def _step(aas: Any, endpoint: str, name: str, bounds: dict[str, float], capacity: int) -> str:
    return aas.put_scaling_policy(  # type: ignore[no-any-return]
        PolicyName=name, **target(endpoint), StepScalingPolicyConfiguration={
            "AdjustmentType": "ExactCapacity", "Cooldown": 0,
            "StepAdjustments": [{**bounds, "ScalingAdjustment": capacity}]})["PolicyARN"]


def _alarm(cw: Any, name: str, endpoint: str, metric: str, operator: str, threshold: float, arn: str) -> None:
    cw.put_metric_alarm(AlarmName=name, Namespace="AWS/SageMaker", MetricName=metric, Statistic="Maximum",
                        Dimensions=[{"Name": "EndpointName", "Value": endpoint}], Period=60, EvaluationPeriods=1,
                        Threshold=threshold, ComparisonOperator=operator, AlarmActions=[arn])


def test_async_endpoint_scales_to_zero_and_wakes_on_backlog(server: ServerProcess, tmp_path: Path,
                                                            unique: str) -> None:
    sm, aas, cw, s3, runtime = (client_for(server, name) for name in (
        "sagemaker", "application-autoscaling", "cloudwatch", "s3", "sagemaker-runtime"))
    s3.create_bucket(Bucket=unique)
    deploy_async(sm, unique, str(scaler_model(tmp_path)), {"S3OutputPath": f"s3://{unique}/out"})
    aas.register_scalable_target(**target(unique), MinCapacity=0, MaxCapacity=1)
    idle = _step(aas, unique, "to-zero", {"MetricIntervalUpperBound": 0.0}, 0)
    wake = _step(aas, unique, "wake", {"MetricIntervalLowerBound": 0.0}, 1)
    _alarm(cw, f"{unique}-idle", unique, "ApproximateBacklogSize", "LessThanOrEqualToThreshold", 0.0, idle)
    _alarm(cw, f"{unique}-wake", unique, "HasBacklogWithoutCapacity", "GreaterThanOrEqualToThreshold", 1.0, wake)

    assert eventually(lambda: _instances(sm, unique) == 0, timeout=60)
    location = f"s3://{unique}/in/request.json"
    s3.put_object(Bucket=unique, Key="in/request.json", Body=b'{"x": [4]}')
    answer = runtime.invoke_endpoint_async(EndpointName=unique, ContentType="application/json",
                                           InputLocation=location)
    assert json.loads(wait_for_object(s3, answer["OutputLocation"], timeout=120))["y"] == [8.0]

    now = dt.datetime.now(dt.timezone.utc)
    backlog = cw.get_metric_statistics(Namespace="AWS/SageMaker", MetricName="HasBacklogWithoutCapacity",
                                       Dimensions=[{"Name": "EndpointName", "Value": unique}], Period=60,
                                       StartTime=now - dt.timedelta(minutes=5), EndTime=now + dt.timedelta(minutes=1),
                                       Statistics=["Maximum"])["Datapoints"]
    assert max(point["Maximum"] for point in backlog) == 1.0
    activities = aas.describe_scaling_activities(ServiceNamespace=NAMESPACE, ResourceId=resource(unique))[
        "ScalingActivities"]
    oldest_first = list(reversed(activities))
    assert [a["Description"] for a in oldest_first[:2]] == ["Setting desired instance count to 0.",
                                                            "Setting desired instance count to 1."]
    assert f"{unique}-idle" in oldest_first[0]["Cause"] and f"{unique}-wake" in oldest_first[1]["Cause"]
    cw.delete_alarms(AlarmNames=[f"{unique}-idle", f"{unique}-wake"])
    sm.delete_endpoint(EndpointName=unique)


def test_only_asynchronous_endpoints_scale_to_zero(server: ServerProcess, tmp_path: Path, unique: str) -> None:
    sm, aas = client_for(server, "sagemaker"), client_for(server, "application-autoscaling")
    deploy(sm, unique, str(scaler_model(tmp_path)))
    code, message = error(aas.register_scalable_target, **target(unique), MinCapacity=0, MaxCapacity=1)
    assert code == "ValidationException" and "only asynchronous endpoints can scale to zero" in message
    sm.delete_endpoint(EndpointName=unique)
