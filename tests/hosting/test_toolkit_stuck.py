"""A model served by modelyard's toolkit whose handler hangs on a call: the call times out with a ModelError
(invoke timeout 2 s here), the toolkit restarts itself to free the handler and loads the model again, which
takes longer than SageMaker's 2 s ping limit here, and the server waits for that instead of killing and
replacing the instance: the same instance serves again. (A container that is not the toolkit and stops
answering /ping is replaced: tests/hosting/test_byoc_stuck.py.)"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import client_for
from tests.hosting.models import deploy, endpoint_log_lines, package
from tests.support.server import ServerProcess, start_server

SLOW_TO_LOAD = '''
import json, os, time

def model_fn(model_dir):
    time.sleep(3.5)
    return "loaded"

def transform_fn(model, body, content_type, accept):
    if (body.decode() if isinstance(body, (bytes, bytearray)) else str(body)) == "hang":
        while True:
            time.sleep(3600)
    return json.dumps({"instance": os.environ["MODELYARD_INSTANCE_ID"], "pid": os.getpid()}), "application/json"
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("toolkit-stuck"), env={"MODELYARD_INVOKE_TIMEOUT_SECONDS": "2"})
    yield server
    server.stop()


def _serving(runtime, name: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    answer = runtime.invoke_endpoint(EndpointName=name, Body=b"{}", ContentType="application/json")
    return dict(json.loads(answer["Body"].read()))


def test_a_toolkit_restarting_itself_after_a_stuck_call_is_waited_for_not_replaced(
        server: ServerProcess, tmp_path: Path, unique: str) -> None:
    sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
    artifact = f"file://{package(tmp_path, {'code/inference.py': SLOW_TO_LOAD})}"
    assert deploy(sm, unique, artifact)["EndpointStatus"] == "InService"
    first = _serving(runtime, unique)
    with pytest.raises(ClientError) as stuck:
        runtime.invoke_endpoint(EndpointName=unique, Body=b"hang", ContentType="application/json")
    assert stuck.value.response["Error"]["Code"] == "ModelError"
    assert "timed out" in stuck.value.response["Error"]["Message"]
    deadline = time.monotonic() + 60
    while True:
        try:
            after = _serving(runtime, unique)
            break
        except ClientError as error:
            assert error.response["Error"]["Code"] in ("ServiceUnavailable", "ModelError"), error.response
        assert time.monotonic() < deadline, "the endpoint did not serve again"
        time.sleep(0.5)
    lines = endpoint_log_lines(client_for(server, "logs"), unique)
    assert any("restarting to free the handler" in line for line in lines), lines[-10:]
    assert not any("did not answer /ping" in line or "instance exited" in line for line in lines), lines[-10:]
    assert after["instance"] == first["instance"]
    assert sm.describe_endpoint(EndpointName=unique)["EndpointStatus"] == "InService"
