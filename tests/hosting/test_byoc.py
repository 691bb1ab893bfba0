"""Bring-your-own-container endpoints: a registered image directory serving /ping + /invocations over HTTP.

A tiny stdlib server image covers the contract and its failures; the seed's custom container
(sagemaker-inference + multi-model-server, ``examples/byoc-mms``) runs end to end with boto3.
"""

from __future__ import annotations

import csv
import json
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from botocore.exceptions import ClientError

from modelyard.runtime.images import ImageRegistry
from tests.conftest import client_for
from tests.hosting.models import deploy, package
from tests.support.server import ServerProcess, start_server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "byoc-mms"
ECHO_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/byoc-echo:1"

ECHO_SERVE = '''#!/usr/bin/env python3
"""A minimal SageMaker serving container: GET /ping and POST /invocations on SAGEMAKER_BIND_TO_PORT."""
import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

if os.environ.get("FAIL_AT_START"):
    print("cannot start: " + os.environ["FAIL_AT_START"], file=sys.stderr)
    sys.exit(2)
with open("/opt/ml/model/weights.txt") as handle:
    WEIGHTS = handle.read().strip()


def probe_write(path):
    try:
        with open(path, "a") as handle:
            handle.write("x")
        return "ok"
    except OSError as exc:
        return exc.strerror


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.reply(200 if self.path == "/ping" else 404, b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if body == b"exit":
            os._exit(3)
        if body == b"fail":
            return self.reply(400, b"bad input: fail")
        answer = {"echo": body.decode(), "content_type": self.headers.get("Content-Type"),
                  "attributes": self.headers.get("X-Amzn-SageMaker-Custom-Attributes"),
                  "weights": WEIGHTS, "greeting": os.environ.get("GREETING"),
                  "etc": probe_write("/etc/byoc-marker"), "etc_passwd": probe_write("/etc/passwd"),
                  "etc_ssl": probe_write("/etc/ssl/byoc-marker"),
                  "model": probe_write("/opt/ml/model/new-file"), "sees_passwd": os.path.exists("/etc/passwd"),
                  "instance": os.environ.get("MODELYARD_INSTANCE_ID")}
        self.reply(200, json.dumps(answer).encode(), "application/json")

    def reply(self, status, body, content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["SAGEMAKER_BIND_TO_PORT"])), Handler).serve_forever()
'''


@pytest.fixture(scope="module")
def byoc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with SageMaker's default limits (MMS may take seconds to answer its first request)."""
    server = start_server(tmp_path_factory.mktemp("byoc"))
    yield server
    server.stop()


@pytest.fixture()
def sm(byoc_server: ServerProcess):  # type: ignore[no-untyped-def]
    return client_for(byoc_server, "sagemaker")


@pytest.fixture()
def runtime(byoc_server: ServerProcess):  # type: ignore[no-untyped-def]
    return client_for(byoc_server, "sagemaker-runtime")


def register(server: ServerProcess, uri: str, directory: Path) -> None:
    """What ``modelyard images register`` does: record the image where the server resolves images."""
    ImageRegistry(server.data_dir / "images").register(uri, directory)


def image_dir(directory: Path, serve: str | None = ECHO_SERVE, manifest: dict | None = None) -> Path:  # type: ignore[type-arg]
    """An image directory with an executable ``serve`` (when given) and a manifest (when given)."""
    directory.mkdir(parents=True, exist_ok=True)
    if serve is not None:
        (directory / "serve").write_text(serve)
        (directory / "serve").chmod(0o755)
    if manifest is not None:
        (directory / "modelyard-image.json").write_text(json.dumps(manifest))
    return directory


@pytest.fixture(scope="module")
def echo_image(byoc_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> str:
    manifest = {"writable": ["/etc"], "env": {"GREETING": "hello from the image"}}
    register(byoc_server, ECHO_IMAGE, image_dir(tmp_path_factory.mktemp("echo-image"), manifest=manifest))
    return ECHO_IMAGE


def echo_model(directory: Path, weights: str = "w-17") -> str:
    return f"file://{package(directory, {'weights.txt': weights})}"


def invoke(runtime, name: str, body: bytes | str, **kwargs):  # type: ignore[no-untyped-def]
    response = runtime.invoke_endpoint(EndpointName=name, ContentType="application/json", Body=body, **kwargs)
    return response, response["Body"].read()


def test_registered_image_serves_the_container_contract(sm, runtime, echo_image, tmp_path, unique):  # type: ignore[no-untyped-def]
    host_passwd = Path("/etc/passwd").read_bytes()
    described = deploy(sm, unique, echo_model(tmp_path), image=echo_image)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert described["ProductionVariants"][0]["DeployedImages"][0]["SpecifiedImage"] == echo_image

    response, raw = invoke(runtime, unique, b'{"x": 1}', CustomAttributes="trace=abc")
    answer = json.loads(raw)
    assert response["ContentType"] == "application/json"
    assert (answer["echo"], answer["content_type"], answer["attributes"]) == (
        '{"x": 1}', "application/json", "trace=abc")
    assert (answer["weights"], answer["greeting"]) == ("w-17", "hello from the image")
    assert answer["etc"] == "ok" and answer["sees_passwd"] is True
    assert (answer["etc_passwd"], answer["etc_ssl"]) == ("ok", "Read-only file system")
    assert answer["model"] == "Read-only file system"
    assert not Path("/etc/byoc-marker").exists() and not Path("/etc/ssl/byoc-marker").exists()
    assert Path("/etc/passwd").read_bytes() == host_passwd

    with pytest.raises(ClientError) as info:
        invoke(runtime, unique, b"fail")
    error = info.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["OriginalStatusCode"] == 400 and error["OriginalMessage"] == "bad input: fail"
    assert json.loads(invoke(runtime, unique, b"{}")[1])["instance"] == answer["instance"]


def test_serve_exiting_mid_request_is_unavailable_then_restarted(sm, runtime, echo_image, tmp_path, unique):  # type: ignore[no-untyped-def]
    assert deploy(sm, unique, echo_model(tmp_path), image=echo_image)["EndpointStatus"] == "InService"
    first = json.loads(invoke(runtime, unique, b"{}")[1])["instance"]
    with pytest.raises(ClientError) as info:
        invoke(runtime, unique, b"exit")
    assert info.value.response["Error"]["Code"] == "ServiceUnavailable"
    deadline = time.monotonic() + 60
    while True:
        try:
            answer = json.loads(invoke(runtime, unique, b"{}")[1])
            break
        except ClientError as err:
            assert err.response["Error"]["Code"] == "ServiceUnavailable", err.response
            assert time.monotonic() < deadline, "the crashed instance was not replaced"
            time.sleep(0.2)
    assert answer["weights"] == "w-17" and answer["instance"] not in (first, None)
    assert sm.describe_endpoint(EndpointName=unique)["EndpointStatus"] == "InService"


def test_serve_exiting_at_start_fails_the_endpoint(sm, echo_image, tmp_path, unique):  # type: ignore[no-untyped-def]
    described = deploy(sm, unique, echo_model(tmp_path), image=echo_image,
                       env={"FAIL_AT_START": "weights.bin is missing"})
    assert described["EndpointStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "exited with code 2" in reason and "cannot start: weights.bin is missing" in reason, reason


def test_network_isolation_serves_through_the_bridge(sm, runtime, echo_image, tmp_path, unique):  # type: ignore[no-untyped-def]
    described = deploy(sm, unique, echo_model(tmp_path), image=echo_image, isolated=True)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert json.loads(invoke(runtime, unique, b"{}")[1])["weights"] == "w-17"


@pytest.mark.parametrize("case", ["train-only", "writable-missing", "writable-reserved"])
def test_unusable_images_fail_with_a_reason(sm, byoc_server, tmp_path, unique, case):  # type: ignore[no-untyped-def]
    uri = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/byoc-{case}-{unique}:1"
    directory = tmp_path / "image"
    if case == "train-only":
        image_dir(directory, serve=None, manifest={"train": ["python", "-c", "pass"]})
    elif case == "writable-missing":
        image_dir(directory, manifest={"writable": [f"/usr/modelyard-missing-{unique}"]})
    else:
        image_dir(directory, manifest={"writable": ["/proc/sys"]})
    if case == "writable-reserved":
        with pytest.raises(Exception, match="lies in /proc"):
            register(byoc_server, uri, directory)
        return
    register(byoc_server, uri, directory)
    described = deploy(sm, unique, echo_model(tmp_path), image=uri)
    assert described["EndpointStatus"] == "Failed"
    expected = {"train-only": "has no serve command", "writable-missing": "does not exist on this host"}[case]
    assert expected in described["FailureReason"], described["FailureReason"]


def host_file(path: str) -> bytes | None:
    """The host's own copy of ``path`` (None when absent): containers must never change it."""
    return Path(path).read_bytes() if os.path.exists(path) else None


def pack_example_model(directory: Path) -> Path:
    """The seed's model.tar.gz: the vector tables plus code/ (what the SDK's entry_point/source_dir repack makes)."""
    tar_path = directory / "model.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        for child in sorted((EXAMPLE / "model").iterdir()):
            tar.add(child, arcname=child.name, filter=lambda info: None if "__pycache__" in info.name else info)
    return tar_path


def read_vectors(path: Path) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return {row[0]: np.array([float(v) for v in row[1:]]) for row in rows}


def expected_recommendations(user_id: str, k: int) -> list[dict[str, float]]:
    """The example's answer computed here: the k movies with the highest dot product, best first."""
    user = read_vectors(EXAMPLE / "model" / "user_vectors" / "000.csv")[user_id]
    movies = read_vectors(EXAMPLE / "model" / "movie_vectors" / "000.csv")
    scores = sorted(((float(vector @ user), movie) for movie, vector in movies.items()), key=lambda s: -s[0])
    return [{movie: score} for score, movie in scores[:k]]


@pytest.mark.slow
def test_seed_custom_container_with_sagemaker_inference_and_mms(sm, runtime, byoc_server, tmp_path, unique):  # type: ignore[no-untyped-def]
    image_uri = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/realtime-inference-endpoint:{unique}"
    host_config = host_file("/etc/sagemaker-mms.properties")
    register(byoc_server, image_uri, EXAMPLE / "image")
    artifact = pack_example_model(tmp_path)
    described = deploy(sm, unique, f"file://{artifact}", image=image_uri)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")

    request_body = {"user_id": "114521", "k": 3}
    response = runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json",
                                       Body=json.dumps(request_body))
    answer = json.loads(response["Body"].read())
    assert answer == {"user_id": "114521", "recommendations": expected_recommendations("114521", 3)}
    assert [next(iter(item)) for item in answer["recommendations"]] == ["1887", "2266", "1904"]
    assert response["ContentType"] == "application/json"

    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json",
                                Body=json.dumps({"user_id": "nobody", "k": 3}))
    error = info.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["OriginalStatusCode"] == 500 and "unknown user_id nobody" in error["OriginalMessage"]
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName=unique, ContentType="text/csv", Body="114521,3")
    assert "Invalid content-type: text/csv" in info.value.response["OriginalMessage"]
    assert host_file("/etc/sagemaker-mms.properties") == host_config
    sm.delete_endpoint(EndpointName=unique)
