"""InvokeEndpointAsync through a real server: 202 and locations, outputs and failures in the server's own
S3, the request options, and SageMaker's refusals."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.asynchronous.conftest import AsyncSetup
from tests.asynchronous.support import deploy_async, object_exists, wait_for_object
from tests.hosting.models import deploy, package, wait_for_status


@pytest.fixture(scope="module")
def endpoint(async_setup: AsyncSetup) -> str:
    """An async endpoint of the scaler model with output and failure paths."""
    bucket = async_setup.bucket
    described = deploy_async(async_setup.client("sagemaker"), "async-scaler", str(async_setup.model),
                             {"S3OutputPath": f"s3://{bucket}/out", "S3FailurePath": f"s3://{bucket}/failed"},
                             client_config={"MaxConcurrentInvocationsPerInstance": 2})
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return "async-scaler"


def _put(setup: AsyncSetup, key: str, body: bytes) -> str:
    setup.client("s3").put_object(Bucket=setup.bucket, Key=key, Body=body)
    return f"s3://{setup.bucket}/{key}"


def _invoke(setup: AsyncSetup, endpoint: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("ContentType", "application/json")
    return setup.client("sagemaker-runtime").invoke_endpoint_async(EndpointName=endpoint, **kwargs)  # type: ignore[no-any-return]


def test_output_lands_at_the_output_location(async_setup: AsyncSetup, endpoint: str) -> None:
    location = _put(async_setup, "in/one.json", b'{"x": [1, 2]}')
    answer = _invoke(async_setup, endpoint, InputLocation=location, InferenceId="first-request")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert answer["InferenceId"] == "first-request"
    assert answer["OutputLocation"] == f"s3://{async_setup.bucket}/out/first-request.out"
    assert answer["FailureLocation"] == f"s3://{async_setup.bucket}/failed/first-request-error.out"
    output = json.loads(wait_for_object(async_setup.client("s3"), answer["OutputLocation"]))
    assert output["y"] == [2.0, 4.0]
    assert not object_exists(async_setup.client("s3"), answer["FailureLocation"])


def test_generated_id_extension_filename_and_inline_body(async_setup: AsyncSetup, endpoint: str) -> None:
    answer = _invoke(async_setup, endpoint, Body=b'{"x": [3]}', S3OutputPathExtension="batch/7",
                     Filename="result.json")
    assert len(answer["InferenceId"]) == 36
    assert answer["OutputLocation"] == f"s3://{async_setup.bucket}/out/batch/7/result.json"
    assert json.loads(wait_for_object(async_setup.client("s3"), answer["OutputLocation"]))["y"] == [6.0]


def test_model_error_goes_to_the_failure_path(async_setup: AsyncSetup, endpoint: str) -> None:
    location = _put(async_setup, "in/fail.json", b'{"fail": "bad row 3"}')
    answer = _invoke(async_setup, endpoint, InputLocation=location)
    message = wait_for_object(async_setup.client("s3"), answer["FailureLocation"]).decode()
    assert "boom: bad row 3" in message and "Received server error (500)" in message
    assert not object_exists(async_setup.client("s3"), answer["OutputLocation"])


def test_unreadable_input_is_a_failure_with_the_reason(async_setup: AsyncSetup, endpoint: str) -> None:
    answer = _invoke(async_setup, endpoint, InputLocation=f"s3://{async_setup.bucket}/in/missing.json")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    message = wait_for_object(async_setup.client("s3"), answer["FailureLocation"]).decode()
    assert "could not read the input" in message and "missing.json" in message


def test_invocation_timeout_is_honoured(async_setup: AsyncSetup, endpoint: str) -> None:
    location = _put(async_setup, "in/slow.json", b'{"x": [1], "sleep": 8}')
    started = time.monotonic()
    answer = _invoke(async_setup, endpoint, InputLocation=location, InvocationTimeoutSeconds=1)
    message = wait_for_object(async_setup.client("s3"), answer["FailureLocation"]).decode()
    assert "ModelInvocationTimeExceeded" in message
    assert time.monotonic() - started < 7


def test_long_invocation_beyond_the_realtime_timeout(async_setup: AsyncSetup, endpoint: str) -> None:
    """The server's real-time timeout is 5 s; an async request may run for its own timeout."""
    location = _put(async_setup, "in/long.json", b'{"x": [5], "sleep": 6}')
    answer = _invoke(async_setup, endpoint, InputLocation=location, InvocationTimeoutSeconds=30)
    assert json.loads(wait_for_object(async_setup.client("s3"), answer["OutputLocation"], 30))["y"] == [10.0]


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, "InputLocation is required"),
    ({"InputLocation": "s3://async-data/in/one.json", "Body": b"{}"}, "not both"),
    ({"InputLocation": "s3://async-data/x", "RequestTTLSeconds": 59}, "RequestTTLSeconds"),
    ({"InputLocation": "s3://async-data/x", "RequestTTLSeconds": 21601}, "RequestTTLSeconds"),
    ({"InputLocation": "s3://async-data/x", "InvocationTimeoutSeconds": 3601}, "InvocationTimeoutSeconds"),
    ({"InputLocation": "s3://async-data/x", "InvocationTimeoutSeconds": 0}, "InvocationTimeoutSeconds"),
])
def test_bad_requests_are_validation_errors(async_setup: AsyncSetup, endpoint: str, kwargs: dict[str, Any],
                                            expected: str) -> None:
    with pytest.raises(ClientError) as refused:
        async_setup.unchecked_runtime().invoke_endpoint_async(EndpointName=endpoint, **kwargs)
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationError", error
    assert expected.lower() in error["Message"].lower()


def test_realtime_and_async_calls_refused_on_the_other_kind(async_setup: AsyncSetup, endpoint: str,
                                                           unique: str) -> None:
    runtime = async_setup.client("sagemaker-runtime")
    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/json", Body=b'{"x": [1]}')
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert "InvokeEndpointAsync" in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint_with_response_stream(EndpointName=endpoint, ContentType="application/json",
                                                     Body=b'{"x": [1]}')
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    sm = async_setup.client("sagemaker")
    assert deploy(sm, unique, str(async_setup.model))["EndpointStatus"] == "InService"
    with pytest.raises(ClientError) as refused:
        _invoke(async_setup, unique, InputLocation=f"s3://{async_setup.bucket}/in/one.json")
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert "not an asynchronous inference endpoint" in refused.value.response["Error"]["Message"]
    sm.delete_endpoint(EndpointName=unique)


SIZER = '''
import hashlib

def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    return body if isinstance(body, bytes) else body.encode()

def predict_fn(data, model):
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
'''


def test_a_payload_beyond_the_realtime_limit(async_setup: AsyncSetup, tmp_path: Path) -> None:
    """24 MB, four times the real-time limit, reaches the model whole (streamed through files)."""
    model = package(tmp_path / "sizer", {"code/inference.py": SIZER})
    described = deploy_async(async_setup.client("sagemaker"), "sizer", str(model),
                             {"S3OutputPath": f"s3://{async_setup.bucket}/sizes"})
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    payload = os.urandom(24 * 1024 * 1024)
    location = _put(async_setup, "in/large.bin", payload)
    answer = _invoke(async_setup, "sizer", InputLocation=location, ContentType="application/octet-stream")
    output = json.loads(wait_for_object(async_setup.client("s3"), answer["OutputLocation"]))
    assert output == {"bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}


COUNTER = '''
import fcntl, json, os, time

STATE = "/tmp/concurrency.json"

def model_fn(model_dir):
    return None

def _update(change):
    with open(STATE + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(STATE) as handle:
                state = json.load(handle)
        except (OSError, ValueError):
            state = {"now": 0, "most": 0}
        state["now"] += change
        state["most"] = max(state["most"], state["now"])
        with open(STATE, "w") as handle:
            json.dump(state, handle)
        return state

def predict_fn(data, model):
    _update(1)
    time.sleep(0.4)
    return _update(-1)
'''


def test_max_concurrent_invocations_per_instance(async_setup: AsyncSetup, tmp_path: Path) -> None:
    """Four worker processes could run four requests at once; the endpoint allows two."""
    sm = async_setup.client("sagemaker")
    model = package(tmp_path / "counter", {"code/inference.py": COUNTER})
    sm.create_model(ModelName="counter", ExecutionRoleArn="arn:aws:iam::000000000000:role/modelyard",
                    PrimaryContainer={"Image": "modelyard/python:3.11", "ModelDataUrl": str(model),
                                      "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "4"}})
    sm.create_endpoint_config(EndpointConfigName="counter", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "counter", "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}], AsyncInferenceConfig={
        "OutputConfig": {"S3OutputPath": f"s3://{async_setup.bucket}/counted"},
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2}})
    sm.create_endpoint(EndpointName="counter", EndpointConfigName="counter")
    assert wait_for_status(sm, "counter")["EndpointStatus"] == "InService"
    outputs = [_invoke(async_setup, "counter", Body=b'{"n": 1}')["OutputLocation"] for _ in range(6)]
    seen = [json.loads(wait_for_object(async_setup.client("s3"), uri, 60))["most"] for uri in outputs]
    assert max(seen) == 2, seen
