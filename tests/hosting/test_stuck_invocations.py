"""An invocation that never returns does not take the endpoint with it: the first call times out with
a ModelError, the instance frees its stuck worker, the next call is served (invoke timeout 3 s here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.hosting.models import deploy, package

HANGS_ON_MARKER = '''
import time

def model_fn(model_dir):
    return "loaded"

def transform_fn(model, body, content_type, accept):
    if body == b"hang":
        while True:
            time.sleep(3600)
    return b"served " + body, "text/plain"
'''


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_call_after_a_stuck_one_is_served(sm, runtime, tmp_path: Path, unique: str, workers: str) -> None:  # type: ignore[no-untyped-def]
    name = f"{unique}-w{workers}"
    artifact = package(tmp_path, {"code/inference.py": HANGS_ON_MARKER})
    described = deploy(sm, name, str(artifact), env={"SAGEMAKER_MODEL_SERVER_WORKERS": workers})
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    try:
        for _ in range(int(workers)):
            with pytest.raises(ClientError) as stuck:
                runtime.invoke_endpoint(EndpointName=name, Body=b"hang", ContentType="text/plain")
            assert stuck.value.response["Error"]["Code"] == "ModelError"
            assert "timed out" in stuck.value.response["Error"]["Message"]
        answer = runtime.invoke_endpoint(EndpointName=name, Body=b"next", ContentType="text/plain")
        assert answer["Body"].read() == b"served next"
    finally:
        sm.delete_endpoint(EndpointName=name)
