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
