"""Graceful shutdown against a real server: SIGTERM lets answers in flight finish, but a client that never
reads its answer cannot hold the server open past the shutdown grace (the invocation timeout plus
``SHUTDOWN_GRACE_MARGIN_SECONDS``)."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from modelyard.cli.server_command import SHUTDOWN_GRACE_MARGIN_SECONDS
from tests.support.server import start_server

INVOKE_TIMEOUT = 1.0


def test_a_client_that_never_reads_cannot_hold_the_server_open_on_sigterm(tmp_path: Path) -> None:
    server = start_server(tmp_path / "server", env={"MODELYARD_INVOKE_TIMEOUT_SECONDS": str(INVOKE_TIMEOUT)})
    try:
        s3 = boto3.client("s3", endpoint_url=server.url, region_name="us-east-1",
                          config=Config(signature_version="s3v4"), **server.credentials)
        s3.create_bucket(Bucket="held")
        s3.put_object(Bucket="held", Key="big", Body=b"x" * (24 * 1024 * 1024))
        url = urlsplit(s3.generate_presigned_url("get_object", Params={"Bucket": "held", "Key": "big"}))
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((url.hostname, url.port))
        sock.sendall(f"GET {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
        assert sock.recv(12) == b"HTTP/1.1 200"
        time.sleep(0.5)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        limit = INVOKE_TIMEOUT + SHUTDOWN_GRACE_MARGIN_SECONDS + 15
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(limit)
        took = time.monotonic() - started
        sock.close()
        assert server.process.poll() is not None, f"the server still runs {took:.0f} s after SIGTERM"
        assert server.process.returncode == -signal.SIGTERM
        assert "timeout graceful shutdown exceeded" in server.log()
    finally:
        server.stop()
