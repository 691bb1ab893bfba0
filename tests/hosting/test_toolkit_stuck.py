"""A model served by modelyard's toolkit whose handler hangs on a call: the call times out with a ModelError
(invoke timeout 2 s here), the toolkit restarts itself to free the handler and loads the model again, which
takes longer than SageMaker's 2 s ping limit here, and the server waits for that instead of killing and
replacing the instance: the same instance serves again, alone or as a container of a serial pipeline.
The models run one worker, so nothing else answers /ping while it restarts. (A container that is not the
toolkit and stops answering /ping is replaced: tests/hosting/test_byoc_stuck.py.)"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import client_for
from tests.hosting.models import GENERIC_IMAGE, deploy, endpoint_log_lines, package, wait_for_status
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
PASS_THROUGH = '''
def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    return body, content_type
'''
ONE_WORKER = {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}


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
    assert deploy(sm, unique, artifact, env=ONE_WORKER)["EndpointStatus"] == "InService"
    _recovers_in_place(server, runtime, unique)


def test_a_restarting_toolkit_in_a_serial_pipeline_is_waited_for_not_replaced(
        server: ServerProcess, tmp_path: Path, unique: str) -> None:
    sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
    containers = [{"Image": GENERIC_IMAGE, "Environment": ONE_WORKER, "ModelDataUrl":
                   f"file://{package(tmp_path / name, {'code/inference.py': code})}"}
                  for name, code in (("first", PASS_THROUGH), ("slow", SLOW_TO_LOAD))]
    sm.create_model(ModelName=unique, ExecutionRoleArn="arn:aws:iam::000000000000:role/modelyard",
                    Containers=containers)
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": unique, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    assert wait_for_status(sm, unique)["EndpointStatus"] == "InService"
    _recovers_in_place(server, runtime, unique)


def _recovers_in_place(server: ServerProcess, runtime, unique: str) -> None:  # type: ignore[no-untyped-def]
    sm = client_for(server, "sagemaker")
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
