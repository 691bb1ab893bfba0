"""A server of its own for the authentication tests, keys made with ``modelyard keys create``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from tests.conftest import CLIENT_CONFIG
from tests.support.server import ServerProcess, start_server

Keys = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A fresh server (auth on, the default) on its own data dir."""
    server = start_server(tmp_path_factory.mktemp("auth"))
    yield server
    server.stop()


def keys_cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m modelyard keys ARGS --data-dir <server's>``."""
    return subprocess.run([sys.executable, "-m", "modelyard", "keys", *args, "--data-dir", str(server.data_dir)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def make_key(auth_server: ServerProcess) -> Keys:
    """Create a key through the CLI and return its printed JSON."""

    def create(name: str, *options: str) -> dict[str, Any]:
        done = keys_cli(auth_server, "create", name, *options)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    return create


def client(server: ServerProcess, service: str, key: dict[str, Any], region: str = "us-east-1") -> Any:
    """A boto3 client signing with ``key``."""
    return boto3.client(service, endpoint_url=server.url, region_name=region, config=CLIENT_CONFIG,
                        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
