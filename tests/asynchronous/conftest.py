"""One server per module with moto standing in for SNS (the server's own S3 holds inputs and outputs)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import client_for
from tests.hosting.models import scaler_model
from tests.support.moto_s3 import TEST_CREDENTIALS, MotoS3Server, start_moto_s3
from tests.support.server import ServerProcess, start_server


@dataclass
class AsyncSetup:
    """The server, moto (SNS and SQS), a bucket of the server's own S3, and the scaler model's path."""

    server: ServerProcess
    moto: MotoS3Server
    bucket: str
    model: Path

    def client(self, service: str) -> Any:
        """A boto3 client of the server."""
        return client_for(self.server, service)

    def unchecked_runtime(self) -> Any:
        """A sagemaker-runtime client that sends what botocore would refuse (so the server's checks run)."""
        import boto3
        from botocore.config import Config

        return boto3.client("sagemaker-runtime", endpoint_url=self.server.url, region_name="us-east-1",
                            config=Config(parameter_validation=False, retries={"max_attempts": 1}),
                            **self.server.credentials)

    def moto_client(self, service: str) -> Any:
        """A boto3 client of moto (SNS, SQS)."""
        import boto3

        return boto3.client(service, endpoint_url=self.moto.endpoint_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="module")
def async_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsyncSetup]:
    moto = start_moto_s3()
    server = start_server(tmp_path_factory.mktemp("async"), env={
        "AWS_ENDPOINT_URL_SNS": moto.endpoint_url, **{f"{k}": v for k, v in TEST_CREDENTIALS.items()},
        "MODELYARD_INVOKE_TIMEOUT_SECONDS": "5"})
    setup = AsyncSetup(server, moto, "async-data", scaler_model(tmp_path_factory.mktemp("model")))
    setup.client("s3").create_bucket(Bucket=setup.bucket)
    yield setup
    setup.server.stop()  # the crash test replaces the server it killed
    if setup.server is not server:
        server.stop()
    moto.stop()
