"""The sagemaker SDK, unchanged, in a subprocess whose environment is ``eval "$(modelyard env ...)"``.

One moto S3 server and one modelyard server (its S3 pointed at moto) serve the whole module set.
The SDK process starts from an environment without any AWS setting: everything it knows comes
from ``modelyard env``'s output.
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

import pytest

from tests.cli.conftest import REPO, clean_environment
from tests.support.moto_s3 import MotoS3Server, start_moto_s3
from tests.support.server import ServerProcess, start_server

BUCKET = "modelyard-sdk"
ROLE = "arn:aws:iam::000000000000:role/modelyard"


@dataclass
class SdkStack:
    """moto S3 + a modelyard server reading from it."""

    moto: MotoS3Server
    server: ServerProcess
    root: Path

    def run(self, script: str, cwd: Path, timeout: float = 420) -> subprocess.CompletedProcess[str]:
        """Run ``script`` (unchanged SDK code) after ``eval "$(modelyard env ...)"``; returns the finished process."""
        (cwd / "user_script.py").write_text(script)
        env_command = shlex.join([sys.executable, "-m", "modelyard", "env", "--endpoint-url", self.server.url,
                                  "--s3-endpoint", self.moto.endpoint_url, "--bucket", BUCKET,
                                  "--data-dir", str(self.server.data_dir)])
        shell = f'eval "$({env_command})" && exec {shlex.quote(sys.executable)} user_script.py'
        return subprocess.run(["bash", "-c", shell], cwd=cwd, env=clean_environment(PYTHONUNBUFFERED="1"),
                              capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def sdk_stack() -> Iterator[SdkStack]:
    """Started once; the data dir is under /var/tmp (not hidden by the sandbox's private /tmp)."""
    root = Path(tempfile.mkdtemp(prefix="modelyard-sdk-", dir="/var/tmp"))
    moto = start_moto_s3(log_dir=root / "moto")
    server = start_server(root / "server", env={
        "AWS_ENDPOINT_URL_S3": moto.endpoint_url, "AWS_ACCESS_KEY_ID": "modelyard",
        "AWS_SECRET_ACCESS_KEY": "modelyard", "AWS_DEFAULT_REGION": "us-east-1"})
    try:
        yield SdkStack(moto, server, root)
    finally:
        server.stop()
        moto.stop()
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
