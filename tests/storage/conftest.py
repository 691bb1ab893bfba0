"""Storage fixtures: one real moto S3 server per session, a fresh bucket per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from modelyard.storage import ObjectStore
from tests.support.moto_s3 import MotoS3Server, moto_s3_session

moto_s3 = pytest.fixture(scope="session")(moto_s3_session)


@pytest.fixture()
def s3(moto_s3: MotoS3Server) -> Any:
    """A plain boto3 client on the moto server, for arranging and checking state."""
    return moto_s3.client()


@pytest.fixture()
def bucket(s3: Any) -> Iterator[str]:
    """A new, empty bucket."""
    name = f"t-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    yield name


@pytest.fixture()
def store(moto_s3: MotoS3Server) -> ObjectStore:
    """An ObjectStore pointed at the moto server."""
    return ObjectStore(endpoint_url=moto_s3.endpoint_url)
