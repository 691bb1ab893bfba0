"""A real endpoint publishes SageMaker's metrics: invocations, errors, latencies (µs) under
AWS/SageMaker and instance utilization under /aws/sagemaker/Endpoints, readable with boto3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.cloudwatch.conftest import endpoint_statistic, eventually
from tests.conftest import client_for
from tests.hosting.models import deploy, scaler_model
from tests.support.server import ServerProcess

_sums = endpoint_statistic


def test_invocations_errors_and_latencies(server: ServerProcess, tmp_path: Path, unique: str) -> None:
    sm, runtime, cw = (client_for(server, name) for name in ("sagemaker", "sagemaker-runtime", "cloudwatch"))
    deploy(sm, unique, str(scaler_model(tmp_path)))
    for _ in range(3):
        runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json", Body=json.dumps({"x": [1]}))
    with pytest.raises(ClientError):
        runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json",
                                Body=json.dumps({"x": [1], "fail": "boom"}))

    assert eventually(lambda: _sums(cw, "AWS/SageMaker", unique, "Invocations") == 4)
    assert _sums(cw, "AWS/SageMaker", unique, "InvocationModelErrors") == 1
    assert (_sums(cw, "AWS/SageMaker", unique, "Invocation4XXErrors") or 0) + (
        _sums(cw, "AWS/SageMaker", unique, "Invocation5XXErrors") or 0) == 1
    assert _sums(cw, "AWS/SageMaker", unique, "InvocationsPerInstance") == 4
    latency = _sums(cw, "AWS/SageMaker", unique, "ModelLatency", "Average")
    overhead = _sums(cw, "AWS/SageMaker", unique, "OverheadLatency", "Average")
    assert latency is not None and 10 < latency < 60e6, "ModelLatency is in microseconds"
    assert overhead is not None and 0 < overhead < 60e6
    setup = _sums(cw, "AWS/SageMaker", unique, "ModelSetupTime", "Maximum")
    assert setup is not None and 1e3 < setup < 600e6, "ModelSetupTime: launch to healthy, in microseconds"
    assert eventually(lambda: _sums(cw, "/aws/sagemaker/Endpoints", unique, "MemoryUtilization", "Maximum"))
    assert eventually(lambda: _sums(cw, "/aws/sagemaker/Endpoints", unique, "CPUUtilization", "SampleCount"))
    disk = eventually(lambda: _sums(cw, "/aws/sagemaker/Endpoints", unique, "DiskUtilization", "Average"))
    assert 0 < disk <= 100

    listed = cw.list_metrics(Namespace="AWS/SageMaker", Dimensions=[{"Name": "EndpointName", "Value": unique}])
    assert {"Invocations", "ModelLatency", "OverheadLatency", "Invocation4XXErrors"} <= {
        metric["MetricName"] for metric in listed["Metrics"]}
    sm.delete_endpoint(EndpointName=unique)
