"""Start a real modelyard server process for black-box tests."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def create_pg_database() -> tuple[str, str]:
    """A fresh PostgreSQL database; returns (url, name)."""
    name = f"modelyard_test_{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return f"postgresql://postgres@127.0.0.1:5432/{name}", name


def drop_pg_database(name: str) -> None:
    """Drop a database made by create_pg_database."""
    engine = sqlalchemy.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


@dataclass
class ServerProcess:
    """A running ``modelyard server``."""

    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log_path: Path
    database_url: str = ""
    """The SQLAlchemy URL of the server's metadata store."""

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        """What the server printed."""
        return self.log_path.read_text(errors="replace")

    @property
    def admin_key(self) -> dict[str, str]:
        """The admin key the server made on first start (``<data dir>/admin-key.json``)."""
        return json.loads((self.data_dir / "admin-key.json").read_text())

    @property
    def credentials(self) -> dict[str, str]:
        """boto3 keyword arguments that sign with the admin key."""
        key = self.admin_key
        return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}

    @property
    def credential_env(self) -> dict[str, str]:
        """AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of the admin key, for a subprocess."""
        key = self.admin_key
        return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}

    @property
    def page_token_key(self) -> bytes:
        """The key the server signs page tokens with (derived from its data dir's server secret)."""
        from modelyard.auth.secrets import PAGE_TOKEN_LABEL, derive, load_server_secret

        return derive(load_server_secret(self.data_dir, create=False), PAGE_TOKEN_LABEL)


_STARTED: list[ServerProcess] = []


_PR_SET_PDEATHSIG = 1


def _stopped_with_its_starter() -> None:
    """In the server's child process before exec: SIGTERM it when the process that started it dies, however
    that dies (atexit does not run when a test run or a benchmark is killed)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@atexit.register
def _stop_leftovers() -> None:
    """Stop every server a test started and did not stop (no server outlives the test run)."""
    for server in _STARTED:
        server.stop()


def running_servers() -> list[ServerProcess]:
    """The servers started by this test run that are still running."""
    return [server for server in _STARTED if server.process.poll() is None]


def delete_endpoints(sm: Any, timeout: float = 60.0) -> list[str]:
    """Delete every endpoint the sagemaker client ``sm`` sees and wait until they are gone (their instances
    stopped), up to ``timeout``; returns the names still listed then."""
    from botocore.exceptions import ClientError

    def listed() -> list[str]:
        return [e["EndpointName"] for page in sm.get_paginator("list_endpoints").paginate()
                for e in page["Endpoints"]]

    for name in listed():
        with contextlib.suppress(ClientError):
            sm.delete_endpoint(EndpointName=name)
    deadline = time.monotonic() + timeout
    while (left := listed()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def start_server(data_dir: Path, database_url: str | None = None, env: dict[str, str] | None = None,
                 port: int | None = None, timeout: float = 60.0) -> ServerProcess:
    """Start a server on a free port and wait until it answers its health check."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"server-{port}.log"
    args = [sys.executable, "-m", "modelyard", "server", "--port", str(port), "--data-dir", str(data_dir),
            "--log-level", "warning"]
    if database_url:
        args += ["--database-url", database_url]
    full_env = {**os.environ, **(env or {})}
    full_env.setdefault("MODELYARD_FILE_ROOTS", tempfile.gettempdir())
    with open(log_path, "ab") as log_file:
        # the death signal is tied to the starting thread: only the main thread's servers get it
        starter_bound = threading.current_thread() is threading.main_thread()
        process = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT, env=full_env,
                                   preexec_fn=_stopped_with_its_starter if starter_bound else None)
    url = f"http://127.0.0.1:{port}"
    server = ServerProcess(process, url, data_dir, log_path,
                           database_url or f"sqlite:///{data_dir / 'modelyard.db'}")
    _STARTED.append(server)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{url}/_modelyard/health", timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not become healthy in {timeout}s:\n{server.log()}")


def signed_headers(server: ServerProcess, method: str, url: str, body: bytes, headers: dict[str, str],
                   service: str = "sagemaker", region: str = "us-east-1") -> dict[str, str]:
    """``headers`` plus the SigV4 headers of the server's admin key (for hand-made HTTP requests)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key = server.admin_key
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), service, region).add_auth(request)
    return dict(request.headers.items())
