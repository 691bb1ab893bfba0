"""Async inference against an external S3 (moto's standalone server as AWS_ENDPOINT_URL_S3): the input is
read there, the answer written there, and the input object's Content-Type passed to the model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.asynchronous.support import deploy_async, wait_for_object
from tests.conftest import client_for
from tests.hosting.models import scaler_model
from tests.support.moto_s3 import TEST_CREDENTIALS, MotoS3Server, start_moto_s3
from tests.support.server import ServerProcess, start_server


@pytest.fixture(scope="module")
def external(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, MotoS3Server]]:
    moto = start_moto_s3()
    server = start_server(tmp_path_factory.mktemp("async-external"),
                          env={"AWS_ENDPOINT_URL_S3": moto.endpoint_url, **TEST_CREDENTIALS})
    yield server, moto
    server.stop()
    moto.stop()


def test_input_and_output_in_an_external_s3(external: tuple[ServerProcess, MotoS3Server], tmp_path: Path) -> None:
    server, moto = external
    s3 = moto.client()
    s3.create_bucket(Bucket="outside")
    s3.put_object(Bucket="outside", Key="in/request", Body=b'{"x": [4]}', ContentType="application/json")
    described = deploy_async(client_for(server, "sagemaker"), "outside", str(scaler_model(tmp_path)),
                             {"S3OutputPath": "s3://outside/out"})
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    answer = client_for(server, "sagemaker-runtime").invoke_endpoint_async(
        EndpointName="outside", InputLocation="s3://outside/in/request")
    assert answer["OutputLocation"] == f"s3://outside/out/{answer['InferenceId']}.out"
    assert json.loads(wait_for_object(s3, answer["OutputLocation"]))["y"] == [8.0]
