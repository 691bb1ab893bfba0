"""S3 served by modelyard: real servers (SQLite and PostgreSQL), real boto3 clients."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.auth.conftest import auth_server, make_key  # noqa: F401  (the auth tests' server and key maker)
from tests.support.server import ServerProcess

S3_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120, connect_timeout=10,
                   s3={"addressing_style": "path"})


def s3_client(server: ServerProcess, region: str = "us-east-1", **options: Any) -> Any:
    """A boto3 S3 client of ``server`` signing with its admin key (path-style, as boto3 picks for an IP)."""
    config = S3_CONFIG.merge(Config(**options)) if options else S3_CONFIG
    return boto3.client("s3", endpoint_url=server.url, region_name=region, config=config, **server.credentials)


@pytest.fixture
def s3(any_server: ServerProcess) -> Any:
    """An S3 client of the SQLite server, then of the PostgreSQL server."""
    return s3_client(any_server)


@pytest.fixture
def new_bucket(s3: Any) -> Callable[[], str]:
    """Create a bucket with a unique name and return the name."""

    def create() -> str:
        name = f"b-{uuid.uuid4().hex[:16]}"
        s3.create_bucket(Bucket=name)
        return name

    return create


@pytest.fixture
def bucket(new_bucket: Callable[[], str]) -> str:
    """A fresh bucket."""
    return new_bucket()


def error_of(call: Callable[[], Any]) -> dict[str, Any]:
    """The S3 error a boto3 call raises: Code, Message and the HTTP status."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return {**response["Error"], "Status": response["ResponseMetadata"]["HTTPStatusCode"]}
