"""A bring-your-own serve program that hangs on a request: the call times out with a ModelError, the
supervisor finds the instance no longer answers /ping, replaces it, and the endpoint serves again
(invoke timeout 2 s here). A server that still answers /ping is left alone."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import client_for
from tests.hosting.models import deploy, endpoint_log_lines, package
from tests.hosting.test_byoc import image_dir, register
from tests.support.server import ServerProcess, start_server

SINGLE_THREADED = "123456789012.dkr.ecr.us-east-1.amazonaws.com/byoc-single:1"
THREADED = "123456789012.dkr.ecr.us-east-1.amazonaws.com/byoc-threaded:1"

HANGING_SERVE = '''#!/usr/bin/env python3
import json, os, time
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.reply(200 if self.path == "/ping" else 404, b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if body == b"hang":
            while True:
                time.sleep(3600)
        self.reply(200, json.dumps({"instance": os.environ["MODELYARD_INSTANCE_ID"]}).encode())

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server_class = ThreadingHTTPServer if os.environ.get("THREADED") else HTTPServer
server_class(("127.0.0.1", int(os.environ["SAGEMAKER_BIND_TO_PORT"])), Handler).serve_forever()
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("byoc-stuck"), env={"MODELYARD_INVOKE_TIMEOUT_SECONDS": "2"})
    register(server, SINGLE_THREADED, image_dir(tmp_path_factory.mktemp("single"), serve=HANGING_SERVE))
    register(server, THREADED, image_dir(tmp_path_factory.mktemp("threaded"), serve=HANGING_SERVE,
                                         manifest={"env": {"THREADED": "1"}}))
    yield server
    server.stop()


def serving_instance(runtime, name: str) -> str:  # type: ignore[no-untyped-def]
    answer = runtime.invoke_endpoint(EndpointName=name, Body=b"{}", ContentType="application/json")
    return str(json.loads(answer["Body"].read())["instance"])


def hang(runtime, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as stuck:
        runtime.invoke_endpoint(EndpointName=name, Body=b"hang", ContentType="application/json")
    assert stuck.value.response["Error"]["Code"] == "ModelError"
    assert "timed out" in stuck.value.response["Error"]["Message"]


def test_a_stuck_single_threaded_server_is_replaced(server: ServerProcess, tmp_path: Path, unique: str) -> None:
    sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
    artifact = f"file://{package(tmp_path, {'weights.txt': 'w'})}"
    assert deploy(sm, unique, artifact, image=SINGLE_THREADED)["EndpointStatus"] == "InService"
    first = serving_instance(runtime, unique)
    hang(runtime, unique)
    deadline = time.monotonic() + 60
    while True:
        try:
            after = serving_instance(runtime, unique)
            if after != first:
                break
        except ClientError as error:
            assert error.response["Error"]["Code"] in ("ServiceUnavailable", "ModelError"), error.response
        assert time.monotonic() < deadline, "the stuck instance was not replaced"
        time.sleep(0.5)
    lines = endpoint_log_lines(client_for(server, "logs"), unique)
    assert any("did not answer /ping" in line for line in lines), lines[-10:]
    assert sm.describe_endpoint(EndpointName=unique)["EndpointStatus"] == "InService"


def test_a_server_that_still_answers_ping_is_kept(server: ServerProcess, tmp_path: Path, unique: str) -> None:
    sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
    artifact = f"file://{package(tmp_path, {'weights.txt': 'w'})}"
    assert deploy(sm, unique, artifact, image=THREADED)["EndpointStatus"] == "InService"
    first = serving_instance(runtime, unique)
    hang(runtime, unique)
    time.sleep(3)
    assert serving_instance(runtime, unique) == first
