"""Shared fixtures: real server processes (SQLite and PostgreSQL) and boto3 clients."""

from __future__ import annotations

import itertools
import os
import uuid
import warnings
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from tests.support.server import (
    ServerProcess,
    create_pg_database,
    delete_endpoints,
    drop_pg_database,
    running_servers,
    start_server,
)

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
# Metrics flush and alarms evaluate within a fraction of a second, so tests poll briefly instead of minutes.
os.environ.setdefault("MODELYARD_METRICS_FLUSH_SECONDS", "0.2")
os.environ.setdefault("MODELYARD_ALARM_INTERVAL_SECONDS", "0.3")
os.environ.setdefault("MODELYARD_INSTANCE_METRICS_SECONDS", "0.5")
for _var in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_var, None)

CLIENT_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120, connect_timeout=10)


@pytest.fixture(autouse=True, scope="module")
def endpoints_left_are_deleted() -> Iterator[None]:
    """After each test module, the endpoints it left on a server that outlives the module are deleted: their
    instances would otherwise be supervised, measured and health-checked for the rest of the suite."""
    yield
    for server in running_servers():
        if not (server.data_dir / "admin-key.json").exists():
            continue
        try:
            left = delete_endpoints(client_for(server, "sagemaker"))
        except Exception as exc:  # noqa: BLE001 - housekeeping: the module's own tests have already run
            warnings.warn(f"could not delete the endpoints left on {server.url}: {exc!r}", stacklevel=1)
            continue
        if left:
            warnings.warn(f"endpoints still listed on {server.url} a minute after DeleteEndpoint: {left}",
                          stacklevel=1)


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server on a fresh SQLite data dir, shared by the session."""
    server = start_server(tmp_path_factory.mktemp("server-sqlite"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server on a fresh PostgreSQL database, shared by the session."""
    url, name = create_pg_database()
    server = start_server(tmp_path_factory.mktemp("server-pg"), database_url=url)
    yield server
    server.stop()
    drop_pg_database(name)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def any_server(request: pytest.FixtureRequest) -> ServerProcess:
    """The SQLite server, then the PostgreSQL server (tests using it run on both stores)."""
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture(scope="session")
def server(sqlite_server: ServerProcess) -> ServerProcess:
    """The default server (SQLite)."""
    return sqlite_server


def client_for(server: ServerProcess, service: str, region: str = "us-east-1"):  # type: ignore[no-untyped-def]
    """A boto3 client of ``service`` pointed at ``server``, signing with its admin key."""
    return boto3.client(service, endpoint_url=server.url, region_name=region, config=CLIENT_CONFIG,
                        **server.credentials)


@pytest.fixture()
def sm(server: ServerProcess):  # type: ignore[no-untyped-def]
    """sagemaker client on the default server."""
    return client_for(server, "sagemaker")


@pytest.fixture()
def sm_any(any_server: ServerProcess):  # type: ignore[no-untyped-def]
    """sagemaker client, once per store."""
    return client_for(any_server, "sagemaker")


_counter = itertools.count()


@pytest.fixture()
def unique() -> str:
    """A short unique name fragment for resources made by one test."""
    return f"t{uuid.uuid4().hex[:8]}{next(_counter)}"
