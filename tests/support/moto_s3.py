"""Run moto's standalone server as a real subprocess: the S3 test double for storage tests.

Independent of pytest; ``moto_s3_session`` is a generator that ``conftest.py`` can wrap::

    moto_s3 = pytest.fixture(scope="session")(moto_s3_session)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MotoS3Server:
    """A running moto server; ``endpoint_url`` is where S3 clients should point."""

    process: subprocess.Popen[bytes]
    endpoint_url: str
    log_path: Path

    def client(self, **kwargs: Any) -> Any:
        """A boto3 S3 client for this server (test credentials, us-east-1)."""
        import boto3

        kwargs.setdefault("region_name", TEST_CREDENTIALS["AWS_DEFAULT_REGION"])
        kwargs.setdefault("aws_access_key_id", TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"])
        kwargs.setdefault("aws_secret_access_key", TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
        return boto3.client("s3", endpoint_url=self.endpoint_url, **kwargs)

    def log(self) -> str:
        """What the server printed."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """Terminate the server (kill it if it does not exit within 10 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> MotoS3Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_moto_s3(*, port: int | None = None, env: Mapping[str, str] | None = None,
                  log_dir: Path | None = None, timeout: float = 30.0) -> MotoS3Server:
    """Start ``python -m moto.server`` on 127.0.0.1 and wait until it answers HTTP."""
    port = port or _free_port()
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="moto-s3-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"moto-{port}.log"
    full_env = {**os.environ, **TEST_CREDENTIALS, **(env or {})}
    args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT, env=full_env)
    server = MotoS3Server(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.endpoint_url}/moto-api/", timeout=1):
                return server
        except urllib.error.HTTPError:
            return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"moto server did not answer within {timeout}s:\n{server.log()}")


def moto_s3_session() -> Iterator[MotoS3Server]:
    """Generator for a session-scoped fixture: one moto server for the whole run."""
    server = start_moto_s3()
    try:
        yield server
    finally:
        server.stop()
