"""Artifacts and source directories on S3 (moto's standalone server as the S3 store)."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator

import pytest

from tests.conftest import client_for
from tests.hosting.models import GENERIC_IMAGE, deploy, package, scaler_model
from tests.support.moto_s3 import MotoS3Server, start_moto_s3
from tests.support.server import ServerProcess, start_server


@pytest.fixture(scope="module")
def s3_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, MotoS3Server]]:
    moto = start_moto_s3()
    server = start_server(tmp_path_factory.mktemp("hosting-s3"), env={
        "AWS_ENDPOINT_URL_S3": moto.endpoint_url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1"})
    yield server, moto
    server.stop()
    moto.stop()


def test_model_data_and_sourcedir_from_s3(s3_setup, tmp_path, unique):  # type: ignore[no-untyped-def]
    server, moto = s3_setup
    s3 = moto.client()
    s3.create_bucket(Bucket=unique)
    s3.upload_file(str(scaler_model(tmp_path / "a", scale=4.0)), unique, "models/scaler/model.tar.gz")
    sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
    described = deploy(sm, unique, f"s3://{unique}/models/scaler/model.tar.gz")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    result = runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json", Body=b'{"x": [1]}')
    assert json.loads(result["Body"].read())["y"] == [4.0]

    weights_only = package(tmp_path / "b", {"weights.json": json.dumps({"scale": 5.0})})
    source = tmp_path / "src"
    source.mkdir()
    (source / "serve_me.py").write_text(
        "import json, os\n"
        "def model_fn(d):\n    return json.load(open(os.path.join(d, 'weights.json')))\n"
        "def predict_fn(data, model):\n    return [x * model['scale'] for x in data['x']]\n")
    sourcedir = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(sourcedir, "w:gz") as tar:
        tar.add(source / "serve_me.py", arcname="serve_me.py")
    s3.upload_file(str(weights_only), unique, "b/model.tar.gz")
    s3.upload_file(str(sourcedir), unique, "b/sourcedir.tar.gz")
    name = unique + "-src"
    described = deploy(sm, name, f"s3://{unique}/b/model.tar.gz", image=GENERIC_IMAGE, env={
        "SAGEMAKER_PROGRAM": "serve_me.py", "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{unique}/b/sourcedir.tar.gz"})
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    result = runtime.invoke_endpoint(EndpointName=name, ContentType="application/json", Body=b'{"x": [2]}')
    assert json.loads(result["Body"].read()) == [10.0]


def test_missing_s3_artifact_fails_with_the_uri(s3_setup, unique):  # type: ignore[no-untyped-def]
    server, moto = s3_setup
    moto.client().create_bucket(Bucket=unique)
    sm = client_for(server, "sagemaker")
    described = deploy(sm, unique, f"s3://{unique}/nothing/model.tar.gz")
    assert described["EndpointStatus"] == "Failed"
    assert f"s3://{unique}/nothing/model.tar.gz" in described["FailureReason"]


