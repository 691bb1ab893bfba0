"""Real endpoints end to end: deploy a model.tar.gz, invoke the user's handlers, fail clearly, delete."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.hosting.models import BROKEN_MODEL_FN, GENERIC_IMAGE, deploy, package, scaler_model, wait_for_status


def invoke_json(runtime, name: str, payload: dict, **kwargs):  # type: ignore[no-untyped-def, type-arg]
    response = runtime.invoke_endpoint(EndpointName=name, ContentType="application/json",
                                       Body=json.dumps(payload), **kwargs)
    return response, json.loads(response["Body"].read())


def test_deploy_invoke_describe_delete(sm, runtime, logs, tmp_path, unique):  # type: ignore[no-untyped-def]
    artifact = scaler_model(tmp_path, scale=3.0)
    described = deploy(sm, unique, f"file://{artifact}")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert described["EndpointArn"] == f"arn:aws:sagemaker:us-east-1:000000000000:endpoint/{unique.lower()}"
    variant = described["ProductionVariants"][0]
    assert (variant["VariantName"], variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (
        "AllTraffic", 1, 1)
    assert variant["DeployedImages"][0]["SpecifiedImage"] == GENERIC_IMAGE

    response, body = invoke_json(runtime, unique, {"x": [1, 2]}, Accept="application/json",
                                 CustomAttributes="trace=abc")
    assert body["y"] == [3.0, 6.0]
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"

    streams = logs.describe_log_streams(logGroupName=f"/aws/sagemaker/Endpoints/{unique}")["logStreams"]
    assert len(streams) == 1 and streams[0]["logStreamName"].startswith("AllTraffic/i-")

    sm.delete_endpoint(EndpointName=unique)
    deadline = time.monotonic() + 60
    while True:
        try:
            sm.describe_endpoint(EndpointName=unique)
        except ClientError as err:
            assert err.response["Error"]["Code"] == "ValidationException"
            assert "Could not find endpoint" in err.response["Error"]["Message"]
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    with pytest.raises(ClientError) as info:
        invoke_json(runtime, unique, {"x": [1]})
    assert info.value.response["Error"]["Code"] == "ValidationError"


def test_handler_errors_are_model_errors_and_the_instance_keeps_serving(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    deploy(sm, unique, str(scaler_model(tmp_path)))
    with pytest.raises(ClientError) as info:
        invoke_json(runtime, unique, {"x": [1], "fail": "no coefficients"})
    error = info.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 500
    assert "boom: no coefficients" in error["OriginalMessage"]
    assert "/aws/sagemaker/Endpoints/" in error["LogStreamArn"]
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName=unique, ContentType="text/csv", Body=b"1,2")
    assert info.value.response["Error"]["Code"] == "ModelError"
    assert "unsupported content type text/csv" in info.value.response["OriginalMessage"]
    _, body = invoke_json(runtime, unique, {"x": [5]})
    assert body["y"] == [10.0]


def test_slow_invocation_times_out_and_the_instance_stays_usable(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    deploy(sm, unique, str(scaler_model(tmp_path)))
    with pytest.raises(ClientError) as info:
        invoke_json(runtime, unique, {"x": [1], "sleep": 5})
    assert info.value.response["Error"]["Code"] == "ModelError"
    assert "timed out" in info.value.response["Error"]["Message"]
    deadline = time.monotonic() + 60
    while True:  # calls queued behind the abandoned one may time out too, until it finishes
        try:
            _, body = invoke_json(runtime, unique, {"x": [1]})
            break
        except ClientError as err:
            assert "timed out" in err.response["Error"]["Message"], err.response
            assert time.monotonic() < deadline, "the instance never answered again"
    assert body["y"] == [2.0]


def test_payload_limit_is_enforced_before_the_model(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    deploy(sm, unique, str(scaler_model(tmp_path)))
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json", Body=b" " * 6_291_457)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


@pytest.mark.parametrize("case", ["model_fn", "image", "artifact", "requirement"])
def test_failures_say_what_broke(sm, tmp_path, unique, case):  # type: ignore[no-untyped-def]
    image, data = GENERIC_IMAGE, None
    if case == "model_fn":
        data = str(package(tmp_path, {"code/inference.py": BROKEN_MODEL_FN}))
    elif case == "image":
        data, image = str(scaler_model(tmp_path)), "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own:1"
    elif case == "artifact":
        data = str(tmp_path / "nowhere" / "model.tar.gz")
    else:
        data = str(scaler_model(tmp_path, requirements="nonexistent-package-zz9==1.0\n"))
    described = deploy(sm, unique, data, image=image)
    assert described["EndpointStatus"] == "Failed"
    reason = described["FailureReason"]
    expected = {"model_fn": "weights.bin is missing from the artifact", "image": "modelyard images register",
                "artifact": "nowhere", "requirement": "nonexistent-package-zz9"}[case]
    assert expected in reason, reason


def test_unknown_and_not_ready_endpoints(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName=unique, Body=b"{}")
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert unique in info.value.response["Error"]["Message"]
    deploy(sm, unique, str(scaler_model(tmp_path)))
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName=unique, Body=b"{}", TargetVariant="Nope")
    assert info.value.response["Error"]["Code"] == "ValidationError"


def test_registry_flow_register_approve_deploy_invoke(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    artifact = scaler_model(tmp_path, scale=10.0)
    sm.create_model_package_group(ModelPackageGroupName=unique)
    arn = sm.create_model_package(ModelPackageGroupName=unique, InferenceSpecification={
        "Containers": [{"Image": GENERIC_IMAGE, "ModelDataUrl": f"file://{artifact}"}],
        "SupportedContentTypes": ["application/json"], "SupportedResponseMIMETypes": ["application/json"]},
    )["ModelPackageArn"]
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    sm.create_model(ModelName=unique, ExecutionRoleArn="arn:aws:iam::000000000000:role/r",
                    Containers=[{"ModelPackageName": arn}])
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": unique, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    assert wait_for_status(sm, unique)["EndpointStatus"] == "InService"
    _, body = invoke_json(runtime, unique, {"x": [1, 2]})
    assert body["y"] == [10.0, 20.0]
