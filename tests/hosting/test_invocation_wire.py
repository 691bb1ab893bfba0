"""InvokeEndpoint on the wire, through a real server: a request that arrives whole in one read (the lean
path's fast lane, ``edge.whole_request``) is answered exactly as the same bytes trickled to the HTTP
parser are, for good calls, failing calls and hostile shapes alike; pipelining, keep-alive, ``Connection:
close`` and HTTP/1.0 keep their meaning."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import client_for
from tests.hosting.models import deploy, scaler_model
from tests.support.server import ServerProcess, signed_headers

VOLATILE = {b"date", b"x-amzn-requestid", b"server-timing"}


@pytest.fixture(scope="module")
def endpoint(hosting_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    sm = client_for(hosting_server, "sagemaker")
    name = f"wire-{uuid.uuid4().hex[:8]}"
    status = deploy(sm, name, str(scaler_model(Path(tmp_path_factory.mktemp("wire")))))
    assert status["EndpointStatus"] == "InService", status
    yield name
    sm.delete_endpoint(EndpointName=name)


def invocation(server: ServerProcess, name: str, body: bytes, *, extra: dict[str, str] | None = None,
               version: bytes = b"HTTP/1.1") -> bytes:
    """A signed InvokeEndpoint request as raw bytes (Host first, then the signed headers, then ``extra``)."""
    path = f"/endpoints/{name}/invocations"
    host = server.url.removeprefix("http://")
    headers = signed_headers(server, "POST", server.url + path, body,
                             {"Host": host, "Content-Type": "application/json", "Content-Length": str(len(body))})
    lines = [b"POST " + path.encode() + b" " + version]
    lines += [f"{key}: {value}".encode() for key, value in headers.items()]
    lines += [f"{key}: {value}".encode() for key, value in (extra or {}).items()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def connect(server: ServerProcess) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=15)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def send(sock: socket.socket, data: bytes, whole: bool) -> None:
    """In one write, or its first byte alone and the rest after a pause (the server reads them apart)."""
    if whole:
        sock.sendall(data)
        return
    sock.sendall(data[:1])
    time.sleep(0.1)
    sock.sendall(data[1:])


class Reader:
    """HTTP/1.1 responses read off one socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def response(self) -> tuple[int, dict[bytes, bytes], bytes]:
        """The next response: status, headers (volatile values blanked), body."""
        while b"\r\n\r\n" not in self.buffer:
            assert self._fill(), f"connection closed mid-response: {self.buffer!r}"
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *fields = head.split(b"\r\n")
        headers = {}
        for field in fields:
            name, _, value = field.partition(b":")
            headers[name.strip().lower()] = b"-" if name.strip().lower() in VOLATILE else value.strip()
        length = int(headers.get(b"content-length", b"0"))
        while len(self.buffer) < length:
            assert self._fill(), "connection closed mid-body"
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split()[1]), headers, body

    def closed(self) -> bool:
        """Whether the server closes the connection (nothing more after the responses read)."""
        try:
            return not self._fill() and not self.buffer
        except (TimeoutError, ConnectionResetError):
            return False


def answer(server: ServerProcess, data: bytes, whole: bool) -> tuple[int, dict[bytes, bytes], bytes, bool]:
    """The response to ``data`` on a fresh connection, and whether the server then closed it."""
    with connect(server) as sock:
        send(sock, data, whole)
        reader = Reader(sock)
        status, headers, body = reader.response()
        sock.settimeout(1.0)
        return status, headers, body, reader.closed()


def test_good_and_failing_calls_get_the_same_answer_whole_or_trickled(hosting_server: ServerProcess,
                                                                       endpoint: str) -> None:
    calls = {
        "good": invocation(hosting_server, endpoint, b'{"x": [1, 2.5]}'),
        "custom attributes and accept": invocation(hosting_server, endpoint, b'{"x": [3]}', extra={
            "X-Amzn-SageMaker-Custom-Attributes": "trace=1", "Accept": "application/json"}),
        "model raises": invocation(hosting_server, endpoint, b'{"fail": "on purpose"}'),
        "not json": invocation(hosting_server, endpoint, b"1,2,3"),
        "empty body": invocation(hosting_server, endpoint, b""),
        "unknown endpoint": invocation(hosting_server, "no-such-endpoint", b'{"x": [1]}'),
        "bad signature": invocation(hosting_server, endpoint, b'{"x": [1]}').replace(b'{"x": [1]}', b'{"x": [9]}'),
    }
    answers = {label: answer(hosting_server, data, whole=True) for label, data in calls.items()}
    for label, data in calls.items():
        assert answers[label] == answer(hosting_server, data, whole=False), label
    status, headers, body, closed = answers["good"]
    assert (status, json.loads(body)["y"], closed) == (200, [2, 5.0], False)
    assert headers[b"x-amzn-invoked-production-variant"] == b"AllTraffic"
    assert answers["model raises"][0] == 424 and b"on purpose" in answers["model raises"][2]
    assert answers["unknown endpoint"][0] == 400
    assert answers["bad signature"][0] == 403


@pytest.mark.parametrize("extra", [
    pytest.param({"Transfer-Encoding": "chunked"}, id="content-length-and-chunked"),
    pytest.param({"Content-Length": "3"}, id="second-content-length"),
    pytest.param({"X-Folded": "a\r\n b"}, id="obs-fold"),
    pytest.param({"X-Trailing": "a "}, id="trailing-space"),
    pytest.param({"X-Bare": "a\rb"}, id="bare-cr"),
    pytest.param({"X-Text": "caf\u00e9"}, id="obs-text"),
    pytest.param({"Expect": "100-continue"}, id="expect"),
    pytest.param({"Upgrade": "websocket", "Connection": "upgrade"}, id="upgrade"),
    pytest.param({"X-Big": "b" * 20000}, id="header-over-the-limit"),
])
def test_hostile_shapes_in_one_read_get_the_parsers_answer(hosting_server: ServerProcess, endpoint: str,
                                                          extra: dict[str, str]) -> None:
    data = invocation(hosting_server, endpoint, b'{"x": [1]}', extra=extra)
    data = data.replace("caf\u00e9".encode(), "caf\u00e9".encode("latin-1"))  # the obs-text byte 0xE9 alone
    whole, trickled = answer(hosting_server, data, whole=True), answer(hosting_server, data, whole=False)
    assert whole == trickled


def test_pipelined_requests_in_one_read_are_each_answered_in_order(hosting_server: ServerProcess,
                                                                   endpoint: str) -> None:
    data = b"".join(invocation(hosting_server, endpoint, json.dumps({"x": [n]}).encode()) for n in range(4))
    with connect(hosting_server) as sock:
        sock.sendall(data)
        reader = Reader(sock)
        answers = [reader.response() for _ in range(4)]
    assert [(status, json.loads(body)["y"]) for status, _, body in answers] == [(200, [2 * n]) for n in range(4)]


def test_keep_alive_calls_alternate_between_the_fast_lane_and_the_parser(hosting_server: ServerProcess,
                                                                        endpoint: str) -> None:
    with connect(hosting_server) as sock:
        reader = Reader(sock)
        for n in range(6):
            send(sock, invocation(hosting_server, endpoint, json.dumps({"x": [n]}).encode()), whole=n % 3 != 2)
            status, _, body = reader.response()
            assert (status, json.loads(body)["y"]) == (200, [2 * n])


@pytest.mark.parametrize("whole", [True, False], ids=["whole", "trickled"])
def test_connection_close_and_http_1_0_close_after_the_answer(hosting_server: ServerProcess, endpoint: str,
                                                              whole: bool) -> None:
    for data in (invocation(hosting_server, endpoint, b'{"x": [1]}', extra={"Connection": "close"}),
                 invocation(hosting_server, endpoint, b'{"x": [1]}', version=b"HTTP/1.0")):
        status, headers, body, closed = answer(hosting_server, data, whole)
        assert (status, json.loads(body)["y"], closed) == (200, [2], True)
        assert headers[b"connection"] == b"close"


def test_a_slow_reader_of_a_large_answer_gets_its_next_pipelined_answer_after_the_drain(
        hosting_server: ServerProcess, endpoint: str) -> None:
    """An answer far larger than the socket buffers fills the server's transport: the lean path then holds
    the connection until the client has read it all, and only then serves the request queued behind it."""
    count = 600_000
    big = invocation(hosting_server, endpoint, json.dumps({"x": [1] * count}).encode())
    small = invocation(hosting_server, endpoint, b'{"x": [7]}')
    host, port = hosting_server.url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(30)
        sock.connect((host, int(port)))
        sock.sendall(big + small)
        time.sleep(1.0)
        reader = Reader(sock)
        status, _, body = reader.response()
        assert status == 200, body[:300]
        assert json.loads(body)["y"] == [2] * count
        assert len(body) > 2_000_000
        status, _, body = reader.response()
    assert (status, json.loads(body)["y"]) == (200, [14])
