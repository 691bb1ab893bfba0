"""One server for the multi-model tests: short invoke timeout, a memory budget that holds a few small
models but not two ballasted ones, no delay in noticing a changed artifact, and a short idle TTL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import client_for
from tests.support.server import ServerProcess, start_server

MEMORY_BUDGET = 400 * 1024 * 1024
IDLE_SECONDS = 5.0


@pytest.fixture(scope="package")
def mme_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The multi-model test server."""
    server = start_server(tmp_path_factory.mktemp("mme"), env={
        "MODELYARD_INVOKE_TIMEOUT_SECONDS": "4", "MODELYARD_MME_MEMORY_BUDGET_BYTES": str(MEMORY_BUDGET),
        "MODELYARD_MME_REVALIDATE_SECONDS": "0", "MODELYARD_MME_IDLE_SECONDS": str(IDLE_SECONDS),
        "MODELYARD_MME_RETRY_MAX_SECONDS": "1"})
    yield server
    server.stop()


@pytest.fixture()
def sm(mme_server: ServerProcess):  # type: ignore[no-untyped-def]
    return client_for(mme_server, "sagemaker")


@pytest.fixture()
def runtime(mme_server: ServerProcess):  # type: ignore[no-untyped-def]
    return client_for(mme_server, "sagemaker-runtime")


@pytest.fixture()
def s3(mme_server: ServerProcess):  # type: ignore[no-untyped-def]
    return client_for(mme_server, "s3")
