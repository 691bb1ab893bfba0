"""Connection-level limits against a real server on 127.0.0.1: a huge header is refused, a slow
header or body is cut after its timeout, idle connections are closed, and connections beyond the caps
(per client and in all) never stop a normal client from being served. Every test is bounded in
connections and seconds."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.edge.connections import MAX_PIPELINED
from tests.conftest import client_for
from tests.support.server import ServerProcess, start_server

HEADER_TIMEOUT = 1.5
BODY_TIMEOUT = 2.0
KEEP_ALIVE = 4.0
MAX_CONNECTIONS = 50
PER_CLIENT = 30


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"MODELYARD_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
           "MODELYARD_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
           "MODELYARD_KEEP_ALIVE_TIMEOUT_SECONDS": str(KEEP_ALIVE),
           "MODELYARD_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
           "MODELYARD_MAX_CONNECTIONS_PER_CLIENT": str(PER_CLIENT)}
    server = start_server(Path(tmp_path_factory.mktemp("guarded")), env=env)
    yield server
    server.stop()


def _port(server: ServerProcess) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _connect(server: ServerProcess, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket()
    sock.settimeout(10)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", _port(server)))
    return sock


def _read_all(sock: socket.socket, seconds: float = 10) -> bytes:
    sock.settimeout(seconds)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def _served(server: ServerProcess) -> None:
    assert "Models" in client_for(server, "sagemaker").list_models()


def test_a_header_block_over_the_limit_is_refused_with_431(guarded: ServerProcess) -> None:
    with _connect(guarded) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SageMaker.ListModels\r\nX-Big: "
                     + b"a" * 20_000 + b"\r\n\r\n")
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert b"RequestHeaderFieldsTooLarge" in answer and b"exceed the limit of 16384 bytes" in answer
    _served(guarded)


def test_a_one_megabyte_header_is_cut_before_it_is_read(guarded: ServerProcess) -> None:
    sent = 0
    with _connect(guarded) as sock:
        try:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Big: ")
            for _ in range(64):
                sock.sendall(b"a" * 16_384)
                sent += 16_384
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _read_all(sock)
    assert sent < 1_048_576 or answer.startswith(b"HTTP/1.1 431"), (sent, answer[:200])
    _served(guarded)


def _trickle(sock: socket.socket, deadline: float) -> float:
    """Send one byte at a time until the server closes; returns the seconds it took."""
    started = time.monotonic()
    try:
        while time.monotonic() - started < deadline:
            sock.sendall(b"a")
            time.sleep(0.25)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return time.monotonic() - started


def _cut_after(guarded: ServerProcess, opening: bytes, timeout: float) -> bytes:
    """Send ``opening``, then trickle one byte at a time while a normal client is served; the answer the
    server gives once ``timeout`` has passed (it must not come earlier)."""
    with _connect(guarded) as sock:
        sock.sendall(opening)
        started = time.monotonic()
        _served(guarded)
        _trickle(sock, timeout + 5)
        answer = _read_all(sock, timeout + 5)
        assert time.monotonic() - started >= timeout - 0.2
    return answer


def test_a_slowloris_header_is_cut_after_the_header_timeout(guarded: ServerProcess) -> None:
    answer = _cut_after(guarded, b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ", HEADER_TIMEOUT)
    assert answer.startswith(b"HTTP/1.1 408") and b"RequestTimeoutException" in answer, answer[:200]


def test_a_slowloris_body_is_cut_after_the_body_timeout(guarded: ServerProcess) -> None:
    answer = _cut_after(guarded, b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SageMaker.ListModels\r\n"
                                 b"Content-Length: 1000\r\n\r\n{", BODY_TIMEOUT)
    assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive within 2 seconds" in answer, answer[:200]


def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(guarded: ServerProcess) -> None:
    with _connect(guarded) as sock:
        started = time.monotonic()
        assert _read_all(sock, KEEP_ALIVE + 5) == b""
        assert KEEP_ALIVE - 0.2 <= time.monotonic() - started <= KEEP_ALIVE + 5


def test_one_client_cannot_hold_more_than_its_share(guarded: ServerProcess) -> None:
    held = [_connect(guarded, "127.0.0.2") for _ in range(PER_CLIENT + 20)]
    try:
        time.sleep(0.3)
        refused = 0
        for sock in held:
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                refused += sock.recv(100).startswith(b"HTTP/1.1 503")
        assert refused == 20
        _served(guarded)
    finally:
        for sock in held:
            sock.close()


def test_idle_connections_beyond_the_cap_do_not_lock_out_a_normal_client(guarded: ServerProcess) -> None:
    sources = [f"127.0.0.{n}" for n in range(3, 9)]
    held = [_connect(guarded, source) for source in sources for _ in range(PER_CLIENT - 5)]
    try:
        assert len(held) > 2 * MAX_CONNECTIONS
        for _ in range(3):
            _served(guarded)
    finally:
        for sock in held:
            sock.close()


@pytest.mark.parametrize("request_bytes", [
    pytest.param(b"GET /endpoints/e/invocations HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", id="websocket"),
    pytest.param(b"POST /endpoints/e/invocations HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n"
                 b"Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n"
                 b"Content-Length: 5\r\n\r\n1,2,3", id="h2c"),
    pytest.param(b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n", id="connect"),
])
def test_protocol_upgrades_are_refused_and_hold_no_connection_slot(guarded: ServerProcess,
                                                                   request_bytes: bytes) -> None:
    for _ in range(PER_CLIENT + 5):
        sock = _connect(guarded, "127.0.0.10")
        sock.sendall(request_bytes)
        answer = _read_all(sock)
        sock.close()
        assert answer.startswith(b"HTTP/1.1 400 "), answer
        assert b"BadRequest" in answer and b"does not switch protocols" in answer
    sock = _connect(guarded, "127.0.0.10")
    sock.sendall(b"GET /_modelyard/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert _read_all(sock).startswith(b"HTTP/1.1 200 ")
    sock.close()


def _rss_mib(server: ServerProcess) -> float:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024


TINY_INVOKE = b"POST /endpoints/e/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"


def test_a_pipelining_flood_is_cut_before_it_holds_memory(guarded: ServerProcess) -> None:
    before = _rss_mib(guarded)
    sock = _connect(guarded, "127.0.0.11")
    sock.sendall(TINY_INVOKE * 5000)
    answers = _read_all(sock)
    sock.close()
    assert answers.count(b"HTTP/1.1 ") <= MAX_PIPELINED + 2
    assert b"More than 64 requests were sent ahead of their answers" in answers
    assert _rss_mib(guarded) - before < 32
    _served(guarded)


def test_a_client_that_never_reads_its_answers_cannot_grow_the_server(guarded: ServerProcess) -> None:
    before = _rss_mib(guarded)
    sock = _connect(guarded, "127.0.0.12")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(1)
    sent, deadline = 0, time.monotonic() + 5
    with contextlib.suppress(OSError):
        while time.monotonic() < deadline:
            sock.sendall(TINY_INVOKE)
            sent += 1
            if sent % 20 == 0:
                time.sleep(0.0005)
    sock.close()
    assert _rss_mib(guarded) - before < 32, f"{sent} requests sent"
    _served(guarded)
