"""An artifact overwritten at the same location: what is created afterwards serves the new model,
what was running keeps the model it started with (file:// and s3:// on moto)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import client_for
from tests.hosting.models import deploy, scaler_model
from tests.support.moto_s3 import MotoS3Server, start_moto_s3
from tests.support.server import ServerProcess, start_server

pytestmark = pytest.mark.slow
ROLE = "arn:aws:iam::000000000000:role/modelyard"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, MotoS3Server]]:
    moto = start_moto_s3()
    server = start_server(tmp_path_factory.mktemp("fresh-artifacts"), env={
        "AWS_ENDPOINT_URL_S3": moto.endpoint_url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1"})
    yield server, moto
    server.stop()
    moto.stop()


def predict(runtime: Any, endpoint: str) -> list[float]:
    body = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/json", Body=b'{"x": [1]}')["Body"]
    return json.loads(body.read())["y"]  # type: ignore[no-any-return]


def transform(sm: Any, name: str, model: str, source: str, output: str) -> None:
    sm.create_transform_job(
        TransformJobName=name, ModelName=model,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
                        "ContentType": "application/json"},
        TransformOutput={"S3OutputPath": output}, TransformResources={"InstanceType": "ml.m5.large",
                                                                      "InstanceCount": 1})
    deadline = time.monotonic() + 240
    while (job := sm.describe_transform_job(TransformJobName=name))["TransformJobStatus"] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")


def overwrite_then_create(sm: Any, runtime: Any, unique: str, location: str, publish: Callable[[float], None],
                          transform_io: tuple[str, str], read_output: Callable[[str], bytes]) -> None:
    publish(2.0)
    first = deploy(sm, f"{unique}-old", location)
    assert first["EndpointStatus"] == "InService", first.get("FailureReason")
    assert predict(runtime, f"{unique}-old") == [2.0]
    publish(3.0)
    second = deploy(sm, f"{unique}-new", location)
    assert second["EndpointStatus"] == "InService", second.get("FailureReason")
    assert predict(runtime, f"{unique}-new") == [3.0]
    assert predict(runtime, f"{unique}-old") == [2.0]  # a running endpoint keeps the model it was created with
    source, output = transform_io
    transform(sm, f"{unique}-batch", f"{unique}-old", source, output)  # the model made before the overwrite
    assert json.loads(read_output(f"{unique}-batch"))["y"] == [3.0]
    found = sm.search(Resource="Model", SearchExpression={"Filters": [
        {"Name": "Model.ModelName", "Operator": "Equals", "Value": f"{unique}-old"}]})["Results"]
    assert found[0]["Model"]["LastBatchTransformJob"]["TransformJobName"] == f"{unique}-batch"
    assert [e["EndpointName"] for e in found[0]["Model"]["Endpoints"]] == [f"{unique}-old"]
    for name in (f"{unique}-old", f"{unique}-new"):
        sm.delete_endpoint(EndpointName=name)


def test_overwritten_file_artifact(stack, tmp_path, unique):  # type: ignore[no-untyped-def]
    server, _ = stack
    sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
    target = tmp_path / "published" / "model.tar.gz"
    target.parent.mkdir()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.json").write_text('{"x": [1]}')

    def publish(scale: float) -> None:
        shutil.copyfile(scaler_model(tmp_path / f"build-{scale}", scale=scale), target)

    def read_output(_: str) -> bytes:
        return (tmp_path / "out" / "rows.json.out").read_bytes()

    overwrite_then_create(sm, runtime, unique, f"file://{target}", publish,
                          (f"file://{tmp_path / 'in'}/", f"file://{tmp_path / 'out'}"), read_output)


def test_overwritten_s3_artifact(stack, tmp_path: Path, unique):  # type: ignore[no-untyped-def]
    server, moto = stack
    sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
    s3 = moto.client()
    s3.create_bucket(Bucket=unique)
    s3.put_object(Bucket=unique, Key="in/rows.json", Body=b'{"x": [1]}')

    def publish(scale: float) -> None:
        s3.upload_file(str(scaler_model(tmp_path / f"build-{scale}", scale=scale)), unique, "fixed/model.tar.gz")

    def read_output(_: str) -> bytes:
        return s3.get_object(Bucket=unique, Key="out/rows.json.out")["Body"].read()  # type: ignore[no-any-return]

    overwrite_then_create(sm, runtime, unique, f"s3://{unique}/fixed/model.tar.gz", publish,
                          (f"s3://{unique}/in/", f"s3://{unique}/out"), read_output)
