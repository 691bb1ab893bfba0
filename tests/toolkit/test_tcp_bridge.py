"""The bring-your-own-image bridge (``toolkit/tcp_bridge.py``), run as the launcher runs it (``python -I``),
with this Python and with the system's (Debian's 3.11.2 starts a transport reading before
``connection_made`` can pause it): nothing a client sends before the upstream connection is made is lost,
large bodies go through whole, and a closed upstream closes the client's connection."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from modelyard.toolkit import tcp_bridge

BRIDGE = str(Path(tcp_bridge.__file__).resolve())
PYTHONS = sorted({sys.executable, *(p for p in (shutil.which("python3", path="/usr/bin"),) if p)})


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if body == b"close":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(params=PYTHONS)
def bridge(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    path = str(tmp_path / "http.sock")
    process = subprocess.Popen([request.param, "-I", BRIDGE, path, str(upstream.server_address[1])])
    try:
        for _ in range(500):
            if os.path.exists(path):
                break
            assert process.poll() is None, f"the bridge exited with {process.returncode}"
            threading.Event().wait(0.01)
        yield path
    finally:
        process.kill()
        process.wait()
        upstream.shutdown()
        upstream.server_close()


def post(sock: socket.socket, body: bytes) -> bytes:
    sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    answer = b""
    while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < len(body):
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        answer += chunk
    return answer.partition(b"\r\n\r\n")[2]


def connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(10)
    sock.connect(path)
    return sock


def test_a_request_sent_at_once_after_connecting_is_never_lost(bridge: str) -> None:
    for index in range(100):
        with connect(bridge) as sock:
            assert post(sock, b"call %d" % index) == b"call %d" % index


def test_large_bodies_and_keep_alive_calls_go_through_whole(bridge: str) -> None:
    body = os.urandom(3 << 20)
    with connect(bridge) as sock:
        for _ in range(3):
            assert post(sock, body) == body


def test_an_upstream_that_closes_closes_the_client_connection(bridge: str) -> None:
    with connect(bridge) as sock:
        assert post(sock, b"close") == b""
        assert sock.recv(1) == b""
