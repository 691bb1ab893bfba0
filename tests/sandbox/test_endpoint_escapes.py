"""Escape attempts from a deployed endpoint's inference.py, through a real server running as this user."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import client_for
from tests.hosting.models import deploy, package, scaler_model
from tests.sandbox.probe import (
    assert_contained,
    host_paths,
    host_state,
    inference_module,
    program_files,
    runtime_listings,
    server_port,
    subset_of,
)
from tests.support.server import ServerProcess, start_server

SECRET = "server-secret-never-inside"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server holding a secret in its environment, with a 512 MiB memory limit for every instance."""
    server = start_server(tmp_path_factory.mktemp("escapes"),
                          env={"AWS_SECRET_ACCESS_KEY": SECRET, "MODELYARD_MEMORY_LIMIT_MB": "512"})
    yield server
    server.stop()


@pytest.mark.parametrize("isolated", [False, True])
def test_inference_code_cannot_escape(server: ServerProcess, tmp_path: Path, isolated: bool) -> None:
    sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
    name = f"escape-{'iso' if isolated else 'net'}-{os.getpid() % 1000}"
    other = deploy(sm, f"{name}-other", f"file://{scaler_model(tmp_path / 'other')}")
    assert other["EndpointStatus"] == "InService"
    data_dir = server.data_dir
    port = server_port(server)
    files = program_files("code/inference.py", inference_module(), port, host_paths(data_dir))
    before = host_state(data_dir)
    described = deploy(sm, name, f"file://{package(tmp_path / 'probe', files)}", isolated=isolated)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    seen = json.loads(runtime.invoke_endpoint(EndpointName=name, Body=b"{}",
                                              ContentType="application/json")["Body"].read())
    assert_contained(seen, secret=SECRET,
                     listings=runtime_listings(data_dir, subset_of("envs", "sock", "toolkit-path")))
    before.assert_unchanged()

    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName=name, Body=json.dumps({"allocate": 4 << 30}),
                                ContentType="application/json")
    assert info.value.response["Error"]["Code"] == "ModelError"
    assert "MemoryError" in info.value.response.get("OriginalMessage", "") + str(info.value)
    answer = runtime.invoke_endpoint(EndpointName=f"{name}-other", Body=b"{\"x\": [1, 2]}",
                                    ContentType="application/json")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200, "the other model keeps serving"
    again = runtime.invoke_endpoint(EndpointName=name, Body=b"{}", ContentType="application/json")
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200, "the model itself survives its MemoryError"
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass

