"""FailureReasons name the user's URI and what is wrong, never where the server keeps its files."""

from __future__ import annotations

import time
from pathlib import Path

from tests.hosting.models import deploy, package
from tests.support.server import ServerProcess

ROLE = "arn:aws:iam::000000000000:role/modelyard"


def truncated(archive: Path) -> Path:
    data = archive.read_bytes()
    broken = archive.with_name("truncated.tar.gz")
    broken.write_bytes(data[: len(data) // 2])
    return broken


def assert_neutral(reason: str, server: ServerProcess) -> None:
    assert str(server.data_dir) not in reason, reason
    assert "artifacts/tmp" not in reason, reason


def test_an_endpoint_failure_reason_holds_no_server_path(sm, hosting_server: ServerProcess, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                         unique: str) -> None:
    (tmp_path / "pad.bin").write_bytes(bytes(range(256)) * 4096)
    artifact = package(tmp_path, {"code/inference.py": "def model_fn(d):\n    return 1\n",
                                  "weights.bin": (tmp_path / "pad.bin").read_bytes().hex()})
    described = deploy(sm, unique, str(truncated(artifact)))
    try:
        assert described["EndpointStatus"] == "Failed"
        reason = described["FailureReason"]
        assert "truncated.tar.gz" in reason and "corrupt" in reason, reason
        assert_neutral(reason, hosting_server)
    finally:
        sm.delete_endpoint(EndpointName=unique)


def test_a_training_failure_reason_holds_no_server_path(sm, hosting_server: ServerProcess, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                        unique: str) -> None:
    (tmp_path / "pad.bin").write_bytes(bytes(range(256)) * 4096)
    source = package(tmp_path, {"train.py": "print('hi')\n", "pad.txt": (tmp_path / "pad.bin").read_bytes().hex()})
    sm.create_training_job(
        TrainingJobName=unique, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": "modelyard/python:3.11", "TrainingInputMode": "File"},
        HyperParameters={"sagemaker_program": '"train.py"', "sagemaker_submit_directory": f'"{truncated(source)}"'},
        OutputDataConfig={"S3OutputPath": str(tmp_path / "out")},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600})
    deadline = time.monotonic() + 120
    while (job := sm.describe_training_job(TrainingJobName=unique))["TrainingJobStatus"] == "InProgress":
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["TrainingJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert "truncated.tar.gz" in reason and "corrupt" in reason, reason
    assert_neutral(reason, hosting_server)
