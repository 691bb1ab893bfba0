"""The HTTP/1.1 adapter: /ping, /invocations, /execution-parameters on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest

from tests.support.server import free_port
from tests.toolkit.support import Gate

HANDLER = """
import time

def model_fn(model_dir):
    return "m"

def transform_fn(model, body, content_type, accept, context):
    if content_type == "sleep":
        time.sleep(float(body))
    if body == "fail":
        raise ValueError("bad body")
    attributes = "echo=" + (context.custom_attributes or "")
    context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", attributes)
    return body.upper() if isinstance(body, str) else body, accept
"""


@pytest.fixture()
def http_toolkit(serve):
    port = free_port()
    toolkit = serve({"inference.py": HANDLER}, env={"SAGEMAKER_BIND_TO_PORT": str(port)})
    return toolkit, port


def test_ping_invocations_and_execution_parameters_keep_alive(http_toolkit):
    toolkit, port = http_toolkit
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/ping")
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b"")
    conn.request("POST", "/invocations", body=b"a,b", headers={
        "Content-Type": "text/csv", "Accept": "text/csv", "X-Amzn-SageMaker-Custom-Attributes": "k=v"})
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b"A,B")
    assert response.getheader("Content-Type") == "text/csv"
    assert response.getheader("X-Amzn-SageMaker-Custom-Attributes") == "echo=k=v"
    conn.request("GET", "/execution-parameters")
    response = conn.getresponse()
    assert json.loads(response.read())["BatchStrategy"] == "MultiRecord"
    conn.request("POST", "/invocations", body=b"fail", headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    assert (response.status, response.read()) == (500, b"bad body")
    conn.close()
    assert f"listening on http://127.0.0.1:{port}" in toolkit.stdout()


def test_routes_methods_and_connection_close(http_toolkit):
    _, port = http_toolkit
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/nope")
    response = conn.getresponse()
    assert (response.status, response.read()) == (404, b"no route /nope")
    conn.request("GET", "/invocations")
    response = conn.getresponse()
    assert response.status == 405
    response.read()
    conn.request("POST", "/invocations", body=b"x", headers={"Connection": "close", "Content-Type": "y"})
    response = conn.getresponse()
    assert response.getheader("Connection") == "close" and response.read() == b"x"


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_malformed_requests_are_refused_and_closed(http_toolkit):
    _, port = http_toolkit
    assert _raw(port, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    chunked = b"POST /invocations HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"
    assert _raw(port, chunked).startswith(b"HTTP/1.1 501 ")
    assert _raw(port, b"GET /ping HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 505 ")
    negative = b"POST /invocations HTTP/1.1\r\nContent-Length: -4\r\n\r\n"
    assert _raw(port, negative).startswith(b"HTTP/1.1 413 ")
    assert _raw(port, b"GET /ping HTTP/1.1\r\nX: " + b"a" * 70_000).startswith(b"HTTP/1.1 431 ")
    pipelined = (b"POST /invocations HTTP/1.1\r\nContent-Length: 1\r\nContent-Type: text/csv\r\n\r\nq"
                 b"GET /ping HTTP/1.0\r\n\r\n")
    answer = _raw(port, pipelined)
    assert answer.count(b"HTTP/1.1 200 OK") == 2 and b"\r\n\r\nQ" in answer


def test_expect_continue(http_toolkit):
    _, port = http_toolkit
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n"
                     b"Content-Type: text/csv\r\nConnection: close\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"abc")
        assert sock.recv(1000).endswith(b"ABC")


def test_http_port_is_bound_only_after_load(serve, tmp_path):
    port = free_port()
    gate = Gate(tmp_path)
    slow = f"def model_fn(d):\n    open({str(gate.path)!r}).read()\n    return 1\n\n" \
           "def transform_fn(m, b, c, a):\n    return b\n"
    toolkit = serve({"inference.py": slow}, env={"SAGEMAKER_BIND_TO_PORT": str(port)}, ready=False)
    gate.wait_entered()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    gate.release()
    toolkit.wait_ready()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/ping")
    assert conn.getresponse().status == 200


def test_http_only_with_modelyard_http_and_two_workers(serve, tmp_path):
    port = free_port()
    env = {"SAGEMAKER_BIND_TO_PORT": str(port), "MODELYARD_SOCKET": "", "SAGEMAKER_MODEL_SERVER_WORKERS": "2"}
    toolkit = serve({"inference.py": HANDLER}, env=env, ready=False)
    deadline = time.monotonic() + 20
    while "2 workers ready" not in toolkit.stdout():
        assert time.monotonic() < deadline and toolkit.process.poll() is None, toolkit.stderr()
        time.sleep(0.02)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/invocations", body=b"hi", headers={"Content-Type": "text/csv"})
    assert conn.getresponse().read() == b"HI"
    assert toolkit.terminate() == 0
