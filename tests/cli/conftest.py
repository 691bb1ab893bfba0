"""A server for the CLI tests, and a runner for ``python -m modelyard`` subprocesses pointed at it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.server import ServerProcess, start_server

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


@dataclass
class Result:
    """A finished CLI run."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together."""
        return self.stdout + self.stderr


Cli = Callable[..., Result]


def clean_environment(**extra: str) -> dict[str, str]:
    """The test process's environment without AWS or modelyard settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MODELYARD_", "SAGEMAKER_"))}
    env.update(COLUMNS="200", NO_COLOR="1", **extra)
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 300,
            stdin: bytes | None = None) -> Result:
    """Run ``python -m modelyard *args``."""
    done = subprocess.run([sys.executable, "-m", "modelyard", *args], env=env, cwd=cwd or REPO,
                          capture_output=True, timeout=timeout, input=stdin)
    return Result(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))


@pytest.fixture(scope="package")
def cli_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own, so listings see only what the CLI tests made."""
    server = start_server(tmp_path_factory.mktemp("cli-server"))
    yield server
    server.stop()


@pytest.fixture()
def cli(cli_server: ServerProcess) -> Cli:
    """Run the CLI against ``cli_server`` (AWS_ENDPOINT_URL and the data dir set, no credentials)."""
    env = clean_environment(AWS_ENDPOINT_URL=cli_server.url, MODELYARD_DATA_DIR=str(cli_server.data_dir))

    def run(*args: str, **kwargs: object) -> Result:
        return run_cli(list(args), env, **kwargs)  # type: ignore[arg-type]

    return run
