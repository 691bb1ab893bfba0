"""Serverless endpoints through a real server: no process until the first call, a cold start that is
answered, MaxConcurrency enforced with ThrottlingException, ProvisionedConcurrency kept warm, idle
instances stopped (idle time 2 s here), MemorySizeInMB enforced, and SageMaker's update rules."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import client_for
from tests.hosting.models import endpoint_pids, package, scaler_model, wait_for_status
from tests.support.server import ServerProcess, start_server

IDLE_SECONDS = 2.0

GREEDY = '''
import json

HOLD = []

def model_fn(model_dir, context=None):
    return {}

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    if data.get("allocate_mb"):
        HOLD.append(bytearray(data["allocate_mb"] << 20))
    return {"held_mb": sum(len(block) for block in HOLD) >> 20}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose idle serverless instances stop after two seconds."""
    server = start_server(tmp_path_factory.mktemp("serverless"),
                          env={"MODELYARD_SERVERLESS_IDLE_SECONDS": str(IDLE_SECONDS),
                               "MODELYARD_INVOKE_TIMEOUT_SECONDS": "20"})
    yield server
    server.stop()


@pytest.fixture()
def sm(server: ServerProcess) -> Any:
    return client_for(server, "sagemaker")


@pytest.fixture()
def runtime(server: ServerProcess) -> Any:
    return client_for(server, "sagemaker-runtime")


def _deploy_serverless(sm: Any, name: str, artifact: Path, *, memory: int = 1024, max_concurrency: int = 2,
                       provisioned: int | None = None) -> dict[str, Any]:
    sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::000000000000:role/modelyard",
                    PrimaryContainer={"Image": "modelyard/python:3.11", "ModelDataUrl": f"file://{artifact}"})
    config: dict[str, Any] = {"MemorySizeInMB": memory, "MaxConcurrency": max_concurrency}
    if provisioned:
        config["ProvisionedConcurrency"] = provisioned
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "ServerlessConfig": config}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_for_status(sm, name)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return described


def _invoke(runtime: Any, name: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = runtime.invoke_endpoint(EndpointName=name, Body=json.dumps(body), ContentType="application/json")
    result: dict[str, Any] = json.loads(answer["Body"].read())
    return result


def _wait_until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_an_idle_serverless_endpoint_holds_no_process_and_cold_starts_on_the_first_call(
        server: ServerProcess, sm: Any, runtime: Any, tmp_path: Path) -> None:
    name = "cold-start"
    described = _deploy_serverless(sm, name, scaler_model(tmp_path, scale=3.0))
    variant = described["ProductionVariants"][0]
    assert variant["CurrentServerlessConfig"] == {"MemorySizeInMB": 1024, "MaxConcurrency": 2}
    assert variant["DesiredServerlessConfig"] == variant["CurrentServerlessConfig"]
    assert "CurrentInstanceCount" not in variant
    assert endpoint_pids(name) == []

    assert _invoke(runtime, name, {"x": [1, 2]})["y"] == [3.0, 6.0]
    assert endpoint_pids(name), "the first call left no instance running"
    assert _invoke(runtime, name, {"x": [5]})["y"] == [15.0]

    assert _wait_until(lambda: not endpoint_pids(name), IDLE_SECONDS + 10), "the idle instance kept running"
    assert _invoke(runtime, name, {"x": [1]})["y"] == [3.0]
    logs = client_for(server, "logs")
    events = logs.filter_log_events(logGroupName=f"/aws/sagemaker/Endpoints/{name}")["events"]
    assert sum("serverless cold start took" in event["message"] for event in events) == 2


def test_calls_beyond_max_concurrency_are_throttled_at_once(sm: Any, runtime: Any, tmp_path: Path) -> None:
    name = "throttled"
    _deploy_serverless(sm, name, scaler_model(tmp_path), max_concurrency=1)
    _invoke(runtime, name, {"x": [1]})
    slow = threading.Thread(target=_invoke, args=(runtime, name, {"x": [1], "sleep": 4}))
    slow.start()
    time.sleep(0.5)
    started = time.monotonic()
    with pytest.raises(ClientError) as refused:
        _invoke(runtime, name, {"x": [2]})
    assert time.monotonic() - started < 2.0, "the call beyond MaxConcurrency was queued behind the slow one"
    assert refused.value.response["Error"]["Code"] == "ThrottlingException"
    assert "MaxConcurrency of 1" in refused.value.response["Error"]["Message"]
    slow.join()
    assert _invoke(runtime, name, {"x": [2]})["y"] == [4.0]


def test_provisioned_concurrency_stays_warm(sm: Any, runtime: Any, tmp_path: Path) -> None:
    name = "provisioned"
    _deploy_serverless(sm, name, scaler_model(tmp_path), max_concurrency=3, provisioned=1)
    pids = endpoint_pids(name)
    assert pids, "no provisioned instance runs"
    time.sleep(IDLE_SECONDS + 1.5)
    assert endpoint_pids(name) == pids
    assert _invoke(runtime, name, {"x": [1]})["y"] == [2.0]


def test_memory_size_is_enforced_and_the_endpoint_recovers(sm: Any, runtime: Any, tmp_path: Path) -> None:
    name = "greedy"
    _deploy_serverless(sm, name, package(tmp_path, {"code/inference.py": GREEDY}), memory=1024)
    assert _invoke(runtime, name, {"allocate_mb": 100})["held_mb"] == 100
    with pytest.raises(ClientError) as failed:
        _invoke(runtime, name, {"allocate_mb": 1200})
    assert failed.value.response["Error"]["Code"] == "ModelError"
    assert "memory" in failed.value.response["OriginalMessage"].lower(), failed.value.response
    assert _wait_until(lambda: _try(runtime, name) is not None, 30), "the endpoint did not recover"


def _try(runtime: Any, name: str) -> dict[str, Any] | None:
    try:
        return _invoke(runtime, name, {})
    except ClientError:
        return None


def test_payloads_over_4_mb_are_refused(sm: Any, runtime: Any, tmp_path: Path) -> None:
    name = "payload-limit"
    _deploy_serverless(sm, name, scaler_model(tmp_path))
    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint(EndpointName=name, Body=b"x" * (4 * 1024 * 1024 + 1), ContentType="text/plain")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert "4194304 bytes" in refused.value.response["Error"]["Message"]


def test_updates_go_from_serverless_to_instances_never_back(sm: Any, runtime: Any, tmp_path: Path) -> None:
    name = "switch"
    _deploy_serverless(sm, name, scaler_model(tmp_path))
    sm.create_endpoint_config(EndpointConfigName=f"{name}-instances", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    sm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-instances")
    described = wait_for_status(sm, name, ("InService", "Failed"))
    _wait_until(lambda: sm.describe_endpoint(EndpointName=name)["EndpointConfigName"] == f"{name}-instances", 60)
    described = sm.describe_endpoint(EndpointName=name)
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1, described
    assert _invoke(runtime, name, {"x": [1]})["y"] == [2.0]
    with pytest.raises(ClientError) as refused:
        sm.update_endpoint(EndpointName=name, EndpointConfigName=name)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "cannot be updated to the serverless" in refused.value.response["Error"]["Message"]


def test_serverless_update_config_changes_concurrency_in_place(sm: Any, runtime: Any, tmp_path: Path) -> None:
    name = "reshaped"
    _deploy_serverless(sm, name, scaler_model(tmp_path), max_concurrency=2)
    assert endpoint_pids(name) == []
    sm.update_endpoint_weights_and_capacities(EndpointName=name, DesiredWeightsAndCapacities=[
        {"VariantName": "AllTraffic", "ServerlessUpdateConfig": {"MaxConcurrency": 4, "ProvisionedConcurrency": 1}}])
    time.sleep(0.2)
    described = wait_for_status(sm, name, ("InService",))
    assert described["ProductionVariants"][0]["CurrentServerlessConfig"] == {
        "MemorySizeInMB": 1024, "MaxConcurrency": 4, "ProvisionedConcurrency": 1}
    assert _wait_until(lambda: bool(endpoint_pids(name)), 30), "the provisioned instance did not start"
    assert _invoke(runtime, name, {"x": [1]})["y"] == [2.0]
    for wanted, expected in [
        ({"ServerlessUpdateConfig": {"ProvisionedConcurrency": 5}}, "cannot exceed MaxConcurrency (4)"),
        ({"DesiredInstanceCount": 2}, "is serverless and has no instances to count"),
    ]:
        with pytest.raises(ClientError) as refused:
            sm.update_endpoint_weights_and_capacities(EndpointName=name, DesiredWeightsAndCapacities=[
                {"VariantName": "AllTraffic", **wanted}])
        assert expected in refused.value.response["Error"]["Message"]
