"""A bounded artifact cache on a real server: an artifact a running endpoint uses is never evicted,
one whose endpoint is gone is, once a new artifact needs the room."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import client_for
from tests.hosting.models import SCALER, deploy, package
from tests.support.server import ServerProcess, start_server

KIB = 1024


@pytest.fixture(scope="module")
def small_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("small-cache") / "data",
                          env={"MODELYARD_ARTIFACT_CACHE_BYTES": str(300 * KIB)})
    yield server
    server.stop()


def artifact(directory: Path, scale: float) -> Path:
    directory.mkdir()
    return package(directory, {"weights.json": json.dumps({"scale": scale}), "code/inference.py": SCALER,
                               "padding.bin": os.urandom(100 * KIB).hex()})


def cached_models(server: ServerProcess) -> set[str]:
    root = server.data_dir / "artifacts" / "models"
    return {entry.name for entry in root.iterdir()} if root.is_dir() else set()


def test_eviction_spares_the_artifact_of_a_running_endpoint(small_cache: ServerProcess, tmp_path: Path,
                                                            unique: str) -> None:
    sm, runtime = client_for(small_cache, "sagemaker"), client_for(small_cache, "sagemaker-runtime")
    running, gone, newest = f"{unique}-a", f"{unique}-b", f"{unique}-c"
    assert deploy(sm, running, str(artifact(tmp_path / "a", 2.0)))["EndpointStatus"] == "InService"
    entry_a = cached_models(small_cache)
    assert deploy(sm, gone, str(artifact(tmp_path / "b", 3.0)))["EndpointStatus"] == "InService"
    entry_b = cached_models(small_cache) - entry_a
    sm.delete_endpoint(EndpointName=gone)
    while gone in {e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]}:
        time.sleep(0.1)
    assert deploy(sm, newest, str(artifact(tmp_path / "c", 4.0)))["EndpointStatus"] == "InService"
    remaining = cached_models(small_cache)
    assert entry_a <= remaining
    assert not entry_b & remaining
    answer = runtime.invoke_endpoint(EndpointName=running, Body=json.dumps({"x": [1]}),
                                     ContentType="application/json")
    assert json.loads(answer["Body"].read())["y"] == [2.0]
