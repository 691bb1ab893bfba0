"""Helpers of the Application Auto Scaling tests: a deployed endpoint per store, targets and errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import client_for
from tests.hosting.models import deploy, scaler_model
from tests.support.server import ServerProcess

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def resource(endpoint: str, variant: str = "AllTraffic") -> str:
    """An endpoint variant's resource id."""
    return f"endpoint/{endpoint}/variant/{variant}"


def target(endpoint: str, variant: str = "AllTraffic") -> dict[str, str]:
    """The three members naming a variant's scalable target."""
    return {"ServiceNamespace": NAMESPACE, "ResourceId": resource(endpoint, variant), "ScalableDimension": DIMENSION}


def error(call: Any, **kwargs: Any) -> tuple[str, str]:
    """(code, message) of a call that must fail."""
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


@dataclass
class Deployed:
    """A server with one InService endpoint (one instance of the scaler model) and its clients."""

    server: ServerProcess
    endpoint: str

    def client(self, service: str) -> Any:
        """A boto3 client of the server."""
        return client_for(self.server, service)


@pytest.fixture(scope="module")
def deployed(any_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """An endpoint on the SQLite server, then one on the PostgreSQL server."""
    sm = client_for(any_server, "sagemaker")
    name = f"as-{uuid.uuid4().hex[:10]}"
    deploy(sm, name, str(scaler_model(tmp_path_factory.mktemp("model"))))
    yield Deployed(any_server, name)
    sm.delete_endpoint(EndpointName=name)
