"""InvokeEndpointWithResponseStream through a real server: parts as the model yields them (one thread
and a worker pool), one part for a model that returns bytes, ModelStreamError for a break mid-stream,
ModelError before the first part, and boto3's EventStream decoding it all."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError, EventStreamError

from tests.conftest import client_for
from tests.hosting.models import deploy, package
from tests.support.server import ServerProcess

STREAMER = '''
import json, time

def model_fn(model_dir):
    return "model"

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    if data.get("fail_now"):
        raise ValueError("refused before streaming")
    if data.get("plain"):
        return {"whole": True}
    def tokens():
        for index in range(data["n"]):
            if data.get("fail_at") == index:
                raise RuntimeError(f"generator broke at {index}")
            if data.get("delay"):
                time.sleep(data["delay"])
            yield f"tok{index} "
    return tokens()
'''


@pytest.fixture(scope="module")
def streamer(hosting_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> str:
    sm = client_for(hosting_server, "sagemaker")
    model = package(tmp_path_factory.mktemp("streamer"), {"code/inference.py": STREAMER})
    described = deploy(sm, "streamer", str(model))
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return "streamer"


@pytest.fixture(scope="module")
def pooled_streamer(hosting_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> str:
    sm = client_for(hosting_server, "sagemaker")
    model = package(tmp_path_factory.mktemp("pooled"), {"code/inference.py": STREAMER})
    described = deploy(sm, "pooled-streamer", str(model), env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return "pooled-streamer"


def _stream(runtime: Any, endpoint: str, request: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[float, bytes]]]:
    started = time.monotonic()
    answer = runtime.invoke_endpoint_with_response_stream(EndpointName=endpoint, ContentType="application/json",
                                                          Body=json.dumps(request).encode())
    parts = [(time.monotonic() - started, event["PayloadPart"]["Bytes"]) for event in answer["Body"]]
    return answer, parts


@pytest.mark.parametrize("endpoint", ["streamer", "pooled-streamer"])
def test_parts_arrive_as_the_model_yields_them(runtime: Any, streamer: str, pooled_streamer: str,
                                               endpoint: str) -> None:
    answer, parts = _stream(runtime, endpoint, {"n": 5, "delay": 0.3})
    assert answer["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert [body for _, body in parts] == [f"tok{i} ".encode() for i in range(5)]
    first, last = parts[0][0], parts[-1][0]
    assert last - first > 0.9, f"parts were buffered: first at {first:.2f}s, last at {last:.2f}s"


def test_a_model_that_returns_bytes_streams_one_part(runtime: Any, streamer: str) -> None:
    _, parts = _stream(runtime, streamer, {"plain": True})
    assert [json.loads(body) for _, body in parts] == [{"whole": True}]


@pytest.mark.parametrize("endpoint", ["streamer", "pooled-streamer"])
def test_a_break_mid_stream_is_a_model_stream_error(runtime: Any, streamer: str, pooled_streamer: str,
                                                    endpoint: str) -> None:
    answer = runtime.invoke_endpoint_with_response_stream(EndpointName=endpoint, ContentType="application/json",
                                                          Body=json.dumps({"n": 5, "fail_at": 2}).encode())
    received = []
    with pytest.raises(EventStreamError) as broken:
        for event in answer["Body"]:
            received.append(event["PayloadPart"]["Bytes"])
    assert received == [b"tok0 ", b"tok1 "]
    assert broken.value.response["Error"]["Code"] == "ModelStreamError"
    assert "StreamBroken" in broken.value.response["Error"]["Message"]
    assert "generator broke at 2" in broken.value.response["Error"]["Message"]
    _, parts = _stream(runtime, endpoint, {"n": 2})
    assert len(parts) == 2, "the endpoint keeps serving after a broken stream"


def test_an_error_before_the_first_part_is_a_model_error(runtime: Any, streamer: str) -> None:
    with pytest.raises(ClientError) as refused:
        _stream(runtime, streamer, {"fail_now": True})
    assert refused.value.response["Error"]["Code"] == "ModelError"
    assert "refused before streaming" in refused.value.response["Error"]["Message"]


def test_invoke_endpoint_joins_a_streaming_model_answer(runtime: Any, streamer: str) -> None:
    answer = runtime.invoke_endpoint(EndpointName=streamer, ContentType="application/json",
                                     Body=json.dumps({"n": 3}).encode())
    assert answer["Body"].read() == b"tok0 tok1 tok2 "


def test_unknown_endpoint_is_a_validation_error(runtime: Any) -> None:
    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint_with_response_stream(EndpointName="no-such-streamer", Body=b"{}")
    assert refused.value.response["Error"]["Code"] == "ValidationError"


CHUNKED_SERVE = '''#!/usr/bin/env python3
"""A bring-your-own container that answers /invocations with chunked HTTP, one chunk per token."""
import json, os, socket, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index in range(request["n"]):
            if request.get("break_at") == index:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            data = f"chunk{index} ".encode()
            self.wfile.write(f"{len(data):x}\\r\\n".encode() + data + b"\\r\\n")
            self.wfile.flush()
            time.sleep(request.get("delay", 0))
        self.wfile.write(b"0\\r\\n\\r\\n")

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["SAGEMAKER_BIND_TO_PORT"])), Handler).serve_forever()
'''
CHUNKED_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/byoc-chunked:1"


@pytest.fixture(scope="module")
def chunked_endpoint(hosting_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> str:
    from modelyard.runtime.images import ImageRegistry

    image = tmp_path_factory.mktemp("chunked-image")
    (image / "serve").write_text(CHUNKED_SERVE)
    (image / "serve").chmod(0o755)
    ImageRegistry(hosting_server.data_dir / "images").register(CHUNKED_IMAGE, image)
    model = package(tmp_path_factory.mktemp("chunked-model"), {"weights.txt": "none"})
    described = deploy(client_for(hosting_server, "sagemaker"), "chunked", f"file://{model}", image=CHUNKED_IMAGE)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return "chunked"


def test_bring_your_own_container_streams_chunked_http(runtime: Any, chunked_endpoint: str) -> None:
    _, parts = _stream(runtime, chunked_endpoint, {"n": 4, "delay": 0.3})
    assert b"".join(body for _, body in parts) == b"chunk0 chunk1 chunk2 chunk3 "
    assert len(parts) >= 3 and parts[-1][0] - parts[0][0] > 0.5, parts
    answer = runtime.invoke_endpoint_with_response_stream(EndpointName=chunked_endpoint,
                                                          Body=json.dumps({"n": 4, "break_at": 2}).encode())
    received = b""
    with pytest.raises(EventStreamError) as broken:
        for event in answer["Body"]:
            received += event["PayloadPart"]["Bytes"]
    assert received == b"chunk0 chunk1 "
    assert broken.value.response["Error"]["Code"] == "ModelStreamError"
    assert "StreamBroken" in broken.value.response["Error"]["Message"]


def test_a_silent_model_mid_stream_is_model_invocation_time_exceeded(runtime: Any, pooled_streamer: str) -> None:
    """The hosting server's invoke timeout is 3 s: a part that takes 4 s ends the stream."""
    answer = runtime.invoke_endpoint_with_response_stream(
        EndpointName=pooled_streamer, ContentType="application/json", Body=json.dumps({"n": 2, "delay": 4}).encode())
    with pytest.raises(EventStreamError) as broken:
        for _ in answer["Body"]:
            pass
    assert broken.value.response["Error"]["Code"] == "ModelStreamError"
    assert "ModelInvocationTimeExceeded" in broken.value.response["Error"]["Message"]
