"""Escape attempts from a processing job's script (ContainerEntrypoint), isolated or not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.jobs_e2e.jobs_support import BUCKET, GENERIC_IMAGE, ROLE, Stack, put, stack, wait_processing
from tests.sandbox.probe import assert_contained, exactly, host_state, runtime_listings, script, stack_files


@pytest.mark.parametrize("isolated", [False, True])
def test_processing_script_cannot_escape(unique: str, isolated: bool) -> None:
    jobs: Stack = stack()
    sm, s3 = jobs.client("sagemaker"), jobs.s3()
    data_dir = jobs.server.data_dir
    for relative, text in stack_files(jobs, "probe.py", script("/opt/ml/processing/result/probe.json")).items():
        put(s3, f"{unique}/code/{relative}", text)
    code = f"s3://{BUCKET}/{unique}/code/"
    before = host_state(data_dir)
    name = f"{unique}-{'iso' if isolated else 'net'}"
    request: dict[str, Any] = {
        "ProcessingJobName": name, "RoleArn": ROLE,
        "ProcessingInputs": [{"InputName": "code", "AppManaged": False, "S3Input": {
            "S3Uri": code, "LocalPath": "/opt/ml/processing/input/code", "S3DataType": "S3Prefix",
            "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None"}}],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "result", "AppManaged": False, "S3Output": {
            "S3Uri": f"s3://{BUCKET}/{unique}/out", "LocalPath": "/opt/ml/processing/result",
            "S3UploadMode": "EndOfJob"}}]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                  "VolumeSizeInGB": 5}},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "AppSpecification": {"ImageUri": GENERIC_IMAGE,
                             "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/probe.py"]},
        "NetworkConfig": {"EnableNetworkIsolation": isolated},
    }
    sm.create_processing_job(**request)
    described = wait_processing(sm, name, timeout=240)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    seen = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{unique}/out/probe.json")["Body"].read())
    assert_contained(seen, listings=runtime_listings(data_dir, exactly("envs")))
    before.assert_unchanged()
