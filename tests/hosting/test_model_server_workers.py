"""How many worker processes an endpoint's toolkit runs, chosen as SageMaker's toolkits choose it:
``SAGEMAKER_MODEL_SERVER_WORKERS`` when the model's environment sets it, else one per vCPU of the
instance type, capped at this machine's cores (the instance's CPU quota; a model's environment cannot claim
more). Two calls in flight at once run side by side in two workers, or one after the other in one."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.hosting.models import deploy, endpoint_log_lines, package

SLEEPY = '''
import json, os, time

def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    time.sleep(1.0)
    return json.dumps({"pid": os.getpid(), "vcpus": os.environ.get("MODELYARD_VCPUS")}), "application/json"
'''
CORES = len(os.sched_getaffinity(0))
VCPUS = {"ml.m5.large": 2, "ml.m5.xlarge": 4}


def _two_at_once(runtime, name: str) -> tuple[list[dict[str, object]], float]:  # type: ignore[no-untyped-def]
    def call(_: int) -> dict[str, object]:
        answer = runtime.invoke_endpoint(EndpointName=name, Body=b"{}", ContentType="application/json")
        return dict(json.loads(answer["Body"].read()))

    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(call, range(2)))
    return answers, time.monotonic() - started


@pytest.mark.parametrize("instance_type, env, workers", [
    ("ml.m5.large", {}, min(2, CORES)),
    ("ml.m5.xlarge", {}, min(4, CORES)),
    ("ml.m5.xlarge", {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}, 1),
    ("ml.m5.large", {"MODELYARD_VCPUS": "64"}, min(2, CORES)),  # the model cannot claim more vCPUs than its type
])
def test_the_toolkit_runs_one_worker_per_vcpu_unless_the_model_sets_the_count(
        sm, runtime, logs, tmp_path: Path, unique: str, instance_type: str, env: dict[str, str],
        workers: int) -> None:
    artifact = f"file://{package(tmp_path, {'code/inference.py': SLEEPY})}"
    deployed = deploy(sm, unique, artifact, env=env, variants=[
        {"VariantName": "AllTraffic", "ModelName": unique, "InitialInstanceCount": 1, "InstanceType": instance_type}])
    assert deployed["EndpointStatus"] == "InService", deployed.get("FailureReason")
    lines = endpoint_log_lines(logs, unique)
    assert any(f"starting: {workers} worker(s)" in line for line in lines), lines
    _two_at_once(runtime, unique)  # both pooled connections opened (and placed on the workers) before timing
    answers, took = _two_at_once(runtime, unique)
    assert {answer["vcpus"] for answer in answers} == {str(min(VCPUS[instance_type], CORES))}
    if workers > 1:
        assert len({answer["pid"] for answer in answers}) == 2, (answers, took)
    else:
        assert len({answer["pid"] for answer in answers}) == 1 and took >= 2.0, (answers, took)
    sm.delete_endpoint(EndpointName=unique)
