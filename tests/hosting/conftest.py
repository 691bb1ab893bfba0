"""A hosting server with short limits, and runtime/logs clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import client_for
from tests.support.server import ServerProcess, start_server


@pytest.fixture(scope="package")
def hosting_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose invocations time out after 3 s."""
    server = start_server(tmp_path_factory.mktemp("hosting"), env={"MODELYARD_INVOKE_TIMEOUT_SECONDS": "3"})
    yield server
    server.stop()


@pytest.fixture()
def sm(hosting_server: ServerProcess):  # type: ignore[no-untyped-def]
    return client_for(hosting_server, "sagemaker")


@pytest.fixture()
def runtime(hosting_server: ServerProcess):  # type: ignore[no-untyped-def]
    return client_for(hosting_server, "sagemaker-runtime")


@pytest.fixture()
def logs(hosting_server: ServerProcess):  # type: ignore[no-untyped-def]
    return client_for(hosting_server, "logs")
