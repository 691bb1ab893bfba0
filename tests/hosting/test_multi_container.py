"""Multi-container endpoints through boto3: Serial pipelines (each container really transforms the
payload; Content-Type flows from one answer to the next request, only the last container gets the
caller's Accept), Direct invocation by TargetContainerHostname, toolkit and bring-your-own containers
mixed, one log stream and one ContainerLatency series per container, and the bad inputs SageMaker refuses."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudwatch.conftest import eventually
from tests.conftest import client_for
from tests.hosting.models import GENERIC_IMAGE, package, wait_for_status
from tests.hosting.test_byoc import ECHO_IMAGE, image_dir, register
from tests.support.server import ServerProcess

ROLE = "arn:aws:iam::000000000000:role/modelyard"

STEP = '''
import json, os

STEP = os.environ["STEP"]

def model_fn(model_dir):
    print(f"step {STEP} loaded", flush=True)
    return STEP

def input_fn(body, content_type):
    text = body.decode() if isinstance(body, (bytes, bytearray)) else body
    wanted = "text/csv" if STEP == "increment" else "application/json"
    if content_type != wanted:
        raise ValueError(f"step {STEP} wants {wanted}, got {content_type}")
    return [float(v) for v in text.split(",")] if STEP == "increment" else json.loads(text)["x"]

def predict_fn(values, model):
    if 13 in values:
        raise RuntimeError(f"step {STEP} refuses 13")
    if STEP == "double":
        return [v * 2 for v in values]
    if STEP == "increment":
        return [v + 1 for v in values]
    return [v * 10 for v in values]

def output_fn(prediction, accept):
    if STEP == "scale":
        return json.dumps({"y": prediction, "accept": accept}), "application/json"
    if accept == "text/csv":
        return ",".join(str(v) for v in prediction), "text/csv"
    return json.dumps({"x": prediction}), "application/json"
'''


@pytest.fixture(scope="module")
def step_artifact(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"file://{package(tmp_path_factory.mktemp('step'), {'code/inference.py': STEP})}"


def step(artifact: str, name: str, hostname: str | None = None, **env: str) -> dict[str, Any]:
    container: dict[str, Any] = {"Image": GENERIC_IMAGE, "ModelDataUrl": artifact, "Environment": {"STEP": name, **env}}
    if hostname:
        container["ContainerHostname"] = hostname
    return container


def deploy_containers(sm: Any, name: str, containers: list[dict[str, Any]], mode: str | None = None) -> dict[str, Any]:
    extra = {"InferenceExecutionConfig": {"Mode": mode}} if mode else {}
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, Containers=containers, **extra)
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_for_status(sm, name)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return described


def invoke(runtime: Any, name: str, x: list[float], **kwargs: Any) -> tuple[dict[str, Any], Any]:
    response = runtime.invoke_endpoint(EndpointName=name, ContentType="application/json",
                                       Body=json.dumps({"x": x}), **kwargs)
    return response, json.loads(response["Body"].read())


def error(info: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def container_latency(cw: Any, endpoint: str, container: str) -> float | None:
    now = dt.datetime.now(dt.timezone.utc)
    points = cw.get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName="ContainerLatency", Period=3600, Statistics=["SampleCount"],
        StartTime=now - dt.timedelta(minutes=30), EndTime=now + dt.timedelta(minutes=30),
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"},
                    {"Name": "ContainerName", "Value": container}])["Datapoints"]
    return points[0]["SampleCount"] if points else None


def test_serial_pipeline_chains_three_containers(sm, runtime, logs, hosting_server: ServerProcess,  # type: ignore[no-untyped-def]
                                                 step_artifact: str, unique: str) -> None:
    described = deploy_containers(sm, unique, [
        step(step_artifact, "double", SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT="text/csv"),
        step(step_artifact, "increment", SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT="application/json"),
        step(step_artifact, "scale")])
    assert len(described["ProductionVariants"][0]["DeployedImages"]) == 3

    response, answer = invoke(runtime, unique, [1, 2], Accept="application/x-final")
    assert answer == {"y": [30.0, 50.0], "accept": "application/x-final"}, "((x*2)+1)*10, the caller's Accept last"
    assert response["ContentType"] == "application/json"
    for _ in range(2):
        assert invoke(runtime, unique, [0])[1]["y"] == [10.0]

    with pytest.raises(ClientError) as failed:
        invoke(runtime, unique, [6.5])
    code, message = error(failed)
    assert code == "ModelError" and "from container-2" in message and "refuses 13" in message
    assert failed.value.response["OriginalStatusCode"] in (400, 500)
    assert invoke(runtime, unique, [3])[1]["y"] == [70.0], "the endpoint keeps serving after a container's error"

    group = f"/aws/sagemaker/Endpoints/{unique}"
    streams = [s["logStreamName"] for s in
               logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="AllTraffic/")["logStreams"]]
    by_container = {stream.rsplit("/", 1)[1]: stream for stream in streams}
    assert set(by_container) == {"container-1", "container-2", "container-3"}, streams
    assert len({stream.split("/")[1] for stream in streams}) == 1, "one instance runs all three containers"
    for container, name in (("container-1", "double"), ("container-2", "increment"), ("container-3", "scale")):
        messages = [e["message"] for e in logs.get_log_events(logGroupName=group,
                                                              logStreamName=by_container[container])["events"]]
        assert any(f"step {name} loaded" in m for m in messages), (container, messages)
        assert not any(f"step {other} loaded" in m for m in messages for other in {"double", "increment", "scale"}
                       - {name})

    cw = client_for(hosting_server, "cloudwatch")
    # the calls reach the metrics in flushes, so a first datapoint may hold only some of them
    eventually(lambda: (container_latency(cw, unique, "container-3") or 0) >= 4)
    assert container_latency(cw, unique, "container-3") == 4, "three good calls and one after the error"
    assert container_latency(cw, unique, "container-2") == 5, "every call reached container 2"
    assert container_latency(cw, unique, "container-1") == 5
    sm.delete_endpoint(EndpointName=unique)


def test_direct_invocation_picks_the_container(sm, runtime, step_artifact: str, unique: str) -> None:  # type: ignore[no-untyped-def]
    deploy_containers(sm, unique, [step(step_artifact, "double", "doubler"), step(step_artifact, "scale", "scaler")],
                      mode="Direct")
    assert invoke(runtime, unique, [1, 2], TargetContainerHostname="doubler")[1] == {"x": [2.0, 4.0]}
    assert invoke(runtime, unique, [1, 2], TargetContainerHostname="scaler")[1]["y"] == [10.0, 20.0]

    with pytest.raises(ClientError) as missing:
        invoke(runtime, unique, [1])
    assert error(missing)[0] == "ValidationError" and "TargetContainerHostname" in error(missing)[1]
    with pytest.raises(ClientError) as unknown:
        invoke(runtime, unique, [1], TargetContainerHostname="nobody")
    assert error(unknown)[0] == "ValidationError" and "nobody" in error(unknown)[1]
    assert "doubler" in error(unknown)[1] and "scaler" in error(unknown)[1]
    with pytest.raises(ClientError) as failed:
        invoke(runtime, unique, [13], TargetContainerHostname="scaler")
    assert error(failed)[0] == "ModelError" and "from scaler" in error(failed)[1]
    assert invoke(runtime, unique, [3], TargetContainerHostname="scaler")[1]["y"] == [30.0]
    sm.delete_endpoint(EndpointName=unique)


def test_target_container_on_a_serial_endpoint_is_refused(sm, runtime, step_artifact: str,  # type: ignore[no-untyped-def]
                                                           unique: str) -> None:
    deploy_containers(sm, unique, [step(step_artifact, "double", SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT="text/csv"),
                                   step(step_artifact, "increment")])
    with pytest.raises(ClientError) as refused:
        invoke(runtime, unique, [1], TargetContainerHostname="container-1")
    code, message = error(refused)
    assert code == "ValidationError" and "not configured for direct invocation" in message
    assert invoke(runtime, unique, [1])[1] == {"x": [3.0]}
    sm.delete_endpoint(EndpointName=unique)


def test_toolkit_and_bring_your_own_containers_mixed(sm, runtime, hosting_server: ServerProcess,  # type: ignore[no-untyped-def]
                                                     step_artifact: str, tmp_path: Path, unique: str) -> None:
    register(hosting_server, ECHO_IMAGE, image_dir(tmp_path / "echo-image"))
    echo_data = f"file://{package(tmp_path / 'echo', {'weights.txt': 'w-9'})}"
    deploy_containers(sm, unique, [step(step_artifact, "double", SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT="text/csv"),
                                   {"Image": ECHO_IMAGE, "ModelDataUrl": echo_data}])
    response = runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json",
                                       Body=json.dumps({"x": [1, 2]}))
    answer = json.loads(response["Body"].read())
    assert answer["echo"] == "2,4" and answer["content_type"] == "text/csv", answer
    assert answer["weights"] == "w-9", "the bring-your-own container has its own model data"
    with pytest.raises(ClientError) as failed:
        runtime.invoke_endpoint(EndpointName=unique, ContentType="text/plain", Body=b"x")
    assert error(failed)[0] == "ModelError" and "from container-1" in error(failed)[1]
    sm.delete_endpoint(EndpointName=unique)


def test_a_container_that_cannot_start_fails_the_endpoint_naming_it(sm, step_artifact: str, unique: str) -> None:  # type: ignore[no-untyped-def]
    broken = f"file://{package(Path(step_artifact[7:]).parent / unique, {'code/inference.py': 'raise SystemExit(5)'})}"
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, Containers=[
        step(step_artifact, "double"), {"Image": GENERIC_IMAGE, "ModelDataUrl": broken}])
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": unique, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    described = wait_for_status(sm, unique)
    assert described["EndpointStatus"] == "Failed"
    assert "container-2" in described["FailureReason"], described["FailureReason"]


def test_refused_combinations(sm, step_artifact: str, unique: str) -> None:  # type: ignore[no-untyped-def]
    pipeline = [step(step_artifact, "double", "a"), step(step_artifact, "scale", "b")]
    with pytest.raises(ClientError) as too_many:
        sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, Containers=[step(step_artifact, "x")] * 16)
    assert error(too_many)[0] == "ValidationException"
    with pytest.raises(ClientError) as multi_model:
        sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, Containers=[
            {**pipeline[0], "Mode": "MultiModel"}, pipeline[1]])
    assert error(multi_model)[0] == "ValidationException" and "MultiModel" in error(multi_model)[1]

    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, Containers=pipeline,
                    InferenceExecutionConfig={"Mode": "Direct"})
    with pytest.raises(ClientError) as serverless:
        sm.create_endpoint_config(EndpointConfigName=f"{unique}-s", ProductionVariants=[
            {"VariantName": "v", "ModelName": unique,
             "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 1}}])
    assert error(serverless)[0] == "ValidationException" and "pipeline" in error(serverless)[1]
    with pytest.raises(ClientError) as asynchronous:
        sm.create_endpoint_config(EndpointConfigName=f"{unique}-a", ProductionVariants=[
            {"VariantName": "v", "ModelName": unique, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
            AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://bucket/out/"}})
    assert error(asynchronous)[0] == "ValidationException" and "Direct" in error(asynchronous)[1]


def _streamed(runtime: Any, name: str, x: list[float], **kwargs: Any) -> Any:
    response = runtime.invoke_endpoint_with_response_stream(EndpointName=name, ContentType="application/json",
                                                            Body=json.dumps({"x": x}), **kwargs)
    return json.loads(b"".join(event["PayloadPart"]["Bytes"] for event in response["Body"] if "PayloadPart" in event))


def test_response_stream_through_serial_and_direct(sm, runtime, step_artifact: str, unique: str) -> None:  # type: ignore[no-untyped-def]
    deploy_containers(sm, unique, [step(step_artifact, "double", SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT="text/csv"),
                                   step(step_artifact, "increment")])
    assert _streamed(runtime, unique, [1, 2]) == {"x": [3.0, 5.0]}, "the chain runs, the last answer streams"
    sm.delete_endpoint(EndpointName=unique)
    direct = f"{unique}-d"
    deploy_containers(sm, direct, [step(step_artifact, "double", "doubler"), step(step_artifact, "scale", "scaler")],
                      mode="Direct")
    assert _streamed(runtime, direct, [2], TargetContainerHostname="scaler")["y"] == [20.0]
    with pytest.raises(ClientError) as missing:
        _streamed(runtime, direct, [2])
    assert error(missing)[0] == "ValidationError"
    sm.delete_endpoint(EndpointName=direct)


def test_model_package_with_two_containers_deploys_as_a_pipeline(sm, runtime, step_artifact: str,  # type: ignore[no-untyped-def]
                                                                  unique: str) -> None:
    sm.create_model_package_group(ModelPackageGroupName=unique)
    arn = sm.create_model_package(ModelPackageGroupName=unique, ModelApprovalStatus="Approved", InferenceSpecification={
        "Containers": [
            {"Image": GENERIC_IMAGE, "ModelDataUrl": step_artifact,
             "Environment": {"STEP": "double", "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}},
            {"Image": GENERIC_IMAGE, "ModelDataUrl": step_artifact, "Environment": {"STEP": "increment"}}],
        "SupportedContentTypes": ["application/json"], "SupportedResponseMIMETypes": ["application/json"]},
    )["ModelPackageArn"]
    with pytest.raises(ClientError) as multi_model:
        sm.create_model(ModelName=f"{unique}-mme", ExecutionRoleArn=ROLE, PrimaryContainer={
            "ModelPackageName": arn, "Mode": "MultiModel"})
    assert error(multi_model)[0] == "ValidationException" and "MultiModel" in error(multi_model)[1]
    deploy_containers(sm, unique, [{"ModelPackageName": arn}])
    assert invoke(runtime, unique, [1, 2])[1] == {"x": [3.0, 5.0]}
    sm.delete_endpoint(EndpointName=unique)


SIX = '''
import json, six

def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    return body

def predict_fn(data, model):
    return {"six": six.__version__}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''


def test_containers_with_conflicting_requirements_get_their_own_environments(  # type: ignore[no-untyped-def]
        sm, runtime, tmp_path: Path, unique: str) -> None:
    containers = []
    for hostname, pin in (("old", "six==1.16.0"), ("new", "six==1.17.0")):
        artifact = package(tmp_path / hostname, {"code/inference.py": SIX, "code/requirements.txt": pin + "\n"})
        containers.append({"Image": GENERIC_IMAGE, "ModelDataUrl": f"file://{artifact}", "ContainerHostname": hostname})
    deploy_containers(sm, unique, containers, mode="Direct")
    assert invoke(runtime, unique, [1], TargetContainerHostname="old")[1] == {"six": "1.16.0"}
    assert invoke(runtime, unique, [1], TargetContainerHostname="new")[1] == {"six": "1.17.0"}
    sm.delete_endpoint(EndpointName=unique)
