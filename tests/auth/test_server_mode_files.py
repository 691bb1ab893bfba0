"""Server mode (authentication on, no ``MODELYARD_FILE_URIS``) keeps ``file://`` to the allow-list: a path
outside the configured roots is refused at the API call, while ``<data dir>-uploads`` (where
``modelyard deploy`` packs models) is always allowed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.settings import uploads_dir
from tests.conftest import client_for
from tests.support.aws_errors import code, error_of, message
from tests.support.server import ServerProcess, start_server

ROLE = "arn:aws:iam::000000000000:role/modelyard"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/modelyard-test-unregistered:1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = start_server(tmp_path_factory.mktemp("server-mode") / "data", env={"MODELYARD_FILE_ROOTS": ""})
    yield process
    process.stop()


def _create(server: ServerProcess, name: str, url: str) -> None:
    client_for(server, "sagemaker").create_model(
        ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE, "ModelDataUrl": url})


def test_a_path_outside_the_allow_list_is_refused(server: ServerProcess, tmp_path: Path) -> None:
    (tmp_path / "model.tar.gz").write_bytes(b"x")
    err = error_of(lambda: _create(server, "outside", (tmp_path / "model.tar.gz").as_uri()))
    assert code(err) == "ValidationException"
    assert "PrimaryContainer.ModelDataUrl" in message(err) and "MODELYARD_FILE_ROOTS" in message(err)


def test_the_cli_uploads_directory_is_allowed(server: ServerProcess) -> None:
    uploads = uploads_dir(server.data_dir)
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "model.tar.gz").write_bytes(b"x")
    _create(server, "uploaded", (uploads / "model.tar.gz").as_uri())
    described = client_for(server, "sagemaker").describe_model(ModelName="uploaded")
    assert described["PrimaryContainer"]["ModelDataUrl"].endswith("model.tar.gz")
