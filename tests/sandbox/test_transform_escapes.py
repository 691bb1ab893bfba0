"""Escape attempts from a model's inference.py run by a batch transform job, with and without the model's
EnableNetworkIsolation; the findings come back as the job's output record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hosting.models import package
from tests.jobs_e2e.jobs_support import BUCKET, GENERIC_IMAGE, ROLE, Stack, put, stack
from tests.jobs_e2e.transform_env import transform_request, wait_for_job
from tests.sandbox.probe import (
    assert_contained,
    host_state,
    inference_module,
    runtime_listings,
    stack_files,
    subset_of,
)


@pytest.mark.parametrize("isolated", [False, True])
def test_transform_model_cannot_escape(unique: str, tmp_path: Path, isolated: bool) -> None:
    jobs: Stack = stack()
    sm, s3 = jobs.client("sagemaker"), jobs.s3()
    data_dir = jobs.server.data_dir
    files = stack_files(jobs, "code/inference.py", inference_module())
    artifact = put(s3, f"{unique}/model.tar.gz", package(tmp_path, files).read_bytes())
    name = f"{unique}-{'iso' if isolated else 'net'}"
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, EnableNetworkIsolation=isolated,
                    PrimaryContainer={"Image": GENERIC_IMAGE, "ModelDataUrl": artifact})
    put(s3, f"{unique}/in/records.json", "{}\n")
    before = host_state(data_dir)
    sm.create_transform_job(**transform_request(
        name, name, f"s3://{BUCKET}/{unique}/in/", f"s3://{BUCKET}/{unique}/out",
        content_type="application/json", accept="application/json", strategy="SingleRecord"))
    described = wait_for_job(sm, name, timeout=240)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    seen = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{unique}/out/records.json.out")["Body"].read())
    assert_contained(seen, listings=runtime_listings(data_dir, subset_of("envs", "sock", "toolkit-path")))
    before.assert_unchanged()
