"""Batch transform over a multi-container model: every record goes through the Serial pipeline on each
instance (one log stream per container); a Direct model is refused, since a record cannot name a container."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.hosting.models import GENERIC_IMAGE, package
from tests.hosting.test_multi_container import STEP
from tests.jobs_e2e.transform_env import (
    BUCKET,
    ROLE,
    client_for,
    moto_fixture,
    s3_read,
    transform_request,
    transform_server,
    wait_for_job,
)
from tests.support.moto_s3 import MotoS3Server
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow

moto = pytest.fixture(scope="module")(moto_fixture)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, moto: MotoS3Server) -> Iterator[ServerProcess]:
    yield from transform_server(tmp_path_factory, moto, "transform-pipeline")


def _containers(artifact: Path) -> list[dict[str, object]]:
    data = f"file://{artifact}"
    return [{"Image": GENERIC_IMAGE, "ModelDataUrl": data, "ContainerHostname": "doubler",
             "Environment": {"STEP": "double", "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}},
            {"Image": GENERIC_IMAGE, "ModelDataUrl": data, "ContainerHostname": "incrementer",
             "Environment": {"STEP": "increment"}}]


def test_transform_runs_a_serial_pipeline(server: ServerProcess, moto: MotoS3Server, tmp_path: Path,
                                          unique: str) -> None:
    sm, logs = client_for(server, "sagemaker"), client_for(server, "logs")
    s3 = moto.client()
    artifact = package(tmp_path, {"code/inference.py": STEP})
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, Containers=_containers(artifact))
    for index, values in enumerate(([1, 2], [10], [6.5])):
        s3.put_object(Bucket=BUCKET, Key=f"{unique}/in/part-{index}.json", Body=json.dumps({"x": values}).encode())
    sm.create_transform_job(**transform_request(unique, unique, f"s3://{BUCKET}/{unique}/in/",
                                                f"s3://{BUCKET}/{unique}/out", content_type="application/json",
                                                accept="application/json", split="None", strategy="SingleRecord"))
    described = wait_for_job(sm, unique)
    assert described["TransformJobStatus"] == "Failed", "one file fails in the second container"
    assert "container incrementer answered HTTP" in described["FailureReason"] or "part-2" in \
        described["FailureReason"], described["FailureReason"]
    assert json.loads(s3_read(s3, f"{unique}/out/part-0.json.out")) == {"x": [3.0, 5.0]}
    assert json.loads(s3_read(s3, f"{unique}/out/part-1.json.out")) == {"x": [21.0]}

    streams = [s["logStreamName"] for s in logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix=f"{unique}/")["logStreams"]]
    assert {s.rsplit("/", 1)[1] for s in streams} >= {"doubler", "incrementer", "data-log"}, streams
    data_log = next(s for s in streams if s.endswith("/data-log"))
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TransformJobs", logStreamName=data_log)["events"]
    assert any("container incrementer answered HTTP" in e["message"] and "refuses 13" in e["message"]
               for e in events), [e["message"] for e in events]


def test_transform_refuses_a_direct_model(server: ServerProcess, tmp_path: Path, unique: str) -> None:
    sm = client_for(server, "sagemaker")
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, Containers=_containers(package(tmp_path, {
        "code/inference.py": STEP})), InferenceExecutionConfig={"Mode": "Direct"})
    with pytest.raises(ClientError) as refused:
        sm.create_transform_job(**transform_request(unique, unique, f"s3://{BUCKET}/x/", f"s3://{BUCKET}/y",
                                                    content_type="application/json", accept="application/json"))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Mode Serial" in refused.value.response["Error"]["Message"]
