"""The sagemaker SDK, unchanged, in a subprocess whose environment is ``eval "$(modelyard env ...)"``.

One modelyard server, alone, serves the whole module set, S3 included (no second process). The SDK
process starts from an environment without any AWS setting: everything it knows comes from
``modelyard env``'s output.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.cli.conftest import REPO, clean_environment
from tests.support.server import ServerProcess, start_server

CLIENT_POLLS = Path(__file__).resolve().parent / "client_polls"
"""On the SDK scripts' PYTHONPATH: its sitecustomize shortens the SDK's client-side poll sleeps."""
BUCKET = "modelyard-sdk"
ROLE = "arn:aws:iam::000000000000:role/modelyard"


@dataclass
class SdkStack:
    """A modelyard server serving SageMaker and S3."""

    server: ServerProcess
    root: Path

    def s3(self) -> Any:
        """A boto3 S3 client of the server (its admin key)."""
        return boto3.client("s3", endpoint_url=self.server.url, region_name="us-east-1", **self.server.credentials)

    def run(self, script: str, cwd: Path, timeout: float = 420) -> subprocess.CompletedProcess[str]:
        """Run ``script`` (unchanged SDK code) after ``eval "$(modelyard env ...)"``; returns the finished process."""
        (cwd / "user_script.py").write_text(script)
        env_command = shlex.join([sys.executable, "-m", "modelyard", "env", "--endpoint-url", self.server.url,
                                  "--bucket", BUCKET,
                                  "--data-dir", str(self.server.data_dir)])
        shell = f'eval "$({env_command})" && exec {shlex.quote(sys.executable)} user_script.py'
        env = clean_environment(PYTHONUNBUFFERED="1", PYTHONPATH=str(CLIENT_POLLS))
        return subprocess.run(["bash", "-c", shell], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="package")
def sdk_stack() -> Iterator[SdkStack]:
    """Started once; the data dir is under /var/tmp (not hidden by the sandbox's private /tmp)."""
    root = Path(tempfile.mkdtemp(prefix="modelyard-sdk-", dir="/var/tmp"))
    server = start_server(root / "server", env={"AWS_ENDPOINT_URL_S3": ""})
    try:
        yield SdkStack(server, root)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def check(done: subprocess.CompletedProcess[str]) -> str:
    """The script's stdout, or a failure showing everything it printed."""
    assert done.returncode == 0, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr[-6000:]}"
    return done.stdout


EXAMPLES = REPO / "examples"


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A copy of examples/ under tmp_path, for code handed to the SDK: it refuses a ``source_dir`` or
    ``entry_point`` under /root, /etc, ~/.aws and the like, where a checkout may well live."""
    return Path(shutil.copytree(EXAMPLES, tmp_path / "examples", symlinks=False))
