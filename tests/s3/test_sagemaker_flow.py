"""The server reads ``s3://`` from its own S3 (no second process): a model uploaded to modelyard's S3 is
deployed and invoked; another account's bucket cannot be named."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.auth.conftest import Keys, client
from tests.conftest import client_for
from tests.hosting.models import GENERIC_IMAGE, deploy, scaler_model
from tests.s3.conftest import s3_client
from tests.support.server import ServerProcess, start_server


@pytest.fixture(scope="module")
def alone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with no external S3 configured (no AWS_ENDPOINT_URL_S3): S3 is its own."""
    server = start_server(tmp_path_factory.mktemp("s3-alone"), env={"AWS_ENDPOINT_URL_S3": ""})
    yield server
    server.stop()


def test_model_from_modelyards_own_s3(alone: ServerProcess, tmp_path: Path) -> None:
    name = f"own-{uuid.uuid4().hex[:10]}"
    s3 = s3_client(alone)
    s3.create_bucket(Bucket=name)
    s3.upload_file(str(scaler_model(tmp_path, scale=3.0)), name, "models/scaler/model.tar.gz")
    sm, runtime = client_for(alone, "sagemaker"), client_for(alone, "sagemaker-runtime")
    described = deploy(sm, name, f"s3://{name}/models/scaler/model.tar.gz")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    result = runtime.invoke_endpoint(EndpointName=name, ContentType="application/json", Body=b'{"x": [2]}')
    assert json.loads(result["Body"].read())["y"] == [6.0]


def test_a_model_cannot_name_another_accounts_bucket(auth_server: ServerProcess, make_key: Keys,
                                                     tmp_path: Path) -> None:
    unique = uuid.uuid4().hex[:8]
    alice = make_key(f"own-alice-{unique}", "--account", "333333333333")
    bob = make_key(f"own-bob-{unique}", "--account", "444444444444")
    bucket = f"alice-models-{unique}"
    client(auth_server, "s3", alice).create_bucket(Bucket=bucket)
    sm = client(auth_server, "sagemaker", bob)
    with pytest.raises(sm.exceptions.ClientError) as caught:
        sm.create_model(ModelName=f"bob-{unique}", ExecutionRoleArn="arn:aws:iam::444444444444:role/r",
                        PrimaryContainer={"Image": GENERIC_IMAGE, "ModelDataUrl": f"s3://{bucket}/m.tar.gz"})
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "another account" in caught.value.response["Error"]["Message"]
