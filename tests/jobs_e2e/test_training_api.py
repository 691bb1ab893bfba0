"""The training job API: validation and errors as SageMaker words them, listing, restart recovery."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import client_for
from tests.jobs_e2e.jobs_support import (
    BUCKET,
    Stack,
    put,
    server_env,
    sourcedir,
    stack,
    training_request,
    wait_secondary,
    wait_training,
)
from tests.jobs_e2e.training_scripts import PROBE
from tests.support.server import start_server


@pytest.fixture(scope="module")
def jobs() -> Stack:
    return stack()


@pytest.fixture()
def sm(jobs: Stack) -> Any:
    return jobs.client("sagemaker")


def error_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def request(name: str, **changes: Any) -> dict[str, Any]:
    base = training_request(name, program="probe.py", submit=f"s3://{BUCKET}/none.tar.gz", output=f"s3://{BUCKET}/o")
    base.update(changes)
    return base


def test_describe_and_stop_of_an_unknown_job(sm, unique):  # type: ignore[no-untyped-def]
    assert error_of(sm.describe_training_job, TrainingJobName=unique) == (
        "ValidationException", "Requested resource not found.")
    assert error_of(sm.stop_training_job, TrainingJobName=unique)[0] == "ValidationException"


@pytest.mark.parametrize("case, expected", [
    ("algorithm-name", "AlgorithmName is not supported"),
    ("no-algorithm", "AlgorithmSpecification is required"),
    ("duplicate-channels", "'train' appears more than once"),
    ("no-resources", "ResourceConfig must give InstanceType and InstanceCount"),
    ("bad-metric", "The regex of metric 'loss' is not valid"),
    ("pipe", "Pipe is not supported"),
    ("runtime", "exceeds the maximum"),
    ("role", "roleArn"),
    ("output", "s3OutputPath"),
])
def test_create_validation(sm, unique, case, expected):  # type: ignore[no-untyped-def]
    channel = {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                                       "S3Uri": f"s3://{BUCKET}/x"}}}
    changes: dict[str, Any] = {
        "algorithm-name": {"AlgorithmSpecification": {"AlgorithmName": "my-algo", "TrainingInputMode": "File"}},
        "no-algorithm": {"AlgorithmSpecification": None},
        "duplicate-channels": {"InputDataConfig": [channel, channel]},
        "no-resources": {"ResourceConfig": {"VolumeSizeInGB": 5}},
        "bad-metric": {"AlgorithmSpecification": {"TrainingImage": "modelyard/python:3.11", "TrainingInputMode": "File",
                                                  "MetricDefinitions": [{"Name": "loss", "Regex": "loss=(["}]}},
        "pipe": {"AlgorithmSpecification": {"TrainingImage": "modelyard/python:3.11", "TrainingInputMode": "Pipe"}},
        "runtime": {"StoppingCondition": {"MaxRuntimeInSeconds": 30 * 24 * 3600}},
        "role": {"RoleArn": "not-a-role-arn-at-all-really"},
        "output": {"OutputDataConfig": {"S3OutputPath": "ftp://somewhere/x"}},
    }[case]
    body = {k: v for k, v in request(unique, **changes).items() if v is not None}
    code, message = error_of(sm.create_training_job, **body)
    assert code == "ValidationException"
    assert expected in message, message
    assert error_of(sm.describe_training_job, TrainingJobName=unique)[0] == "ValidationException"


def test_duplicate_name_is_resource_in_use(sm, unique):  # type: ignore[no-untyped-def]
    arn = sm.create_training_job(**request(unique))["TrainingJobArn"]
    code, message = error_of(sm.create_training_job, **request(unique))
    assert code == "ResourceInUse"
    assert message == ("Training job names must be unique within an AWS account and region, and a training job with "
                       f"this name already exists ({arn})")
    failed = wait_training(sm, unique)
    assert failed["TrainingJobStatus"] == "Failed" and f"s3://{BUCKET}/none.tar.gz" in failed["FailureReason"]


def test_unknown_image_fails_with_how_to_register(sm, unique):  # type: ignore[no-untyped-def]
    body = request(unique, AlgorithmSpecification={"TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/"
                                                                     "mine:1", "TrainingInputMode": "File"})
    sm.create_training_job(**body)
    described = wait_training(sm, unique)
    assert described["TrainingJobStatus"] == "Failed"
    assert "modelyard images register" in described["FailureReason"]


def test_list_filters_sorts_and_pages(sm, unique):  # type: ignore[no-untyped-def]
    names = [f"{unique}-{i}" for i in range(3)]
    for name in names:
        sm.create_training_job(**request(name))
    for name in names:
        wait_training(sm, name)
    listed = sm.list_training_jobs(NameContains=unique)["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in listed] == names
    assert {s["TrainingJobStatus"] for s in listed} == {"Failed"}
    assert set(listed[0]) >= {"TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingEndTime",
                              "LastModifiedTime", "TrainingJobStatus", "SecondaryStatus"}
    newest_first = sm.list_training_jobs(NameContains=unique, SortBy="Name", SortOrder="Descending")
    assert [s["TrainingJobName"] for s in newest_first["TrainingJobSummaries"]] == names[::-1]
    first = sm.list_training_jobs(NameContains=unique, MaxResults=2)
    second = sm.list_training_jobs(NameContains=unique, MaxResults=2, NextToken=first["NextToken"])
    assert [s["TrainingJobName"] for s in first["TrainingJobSummaries"] + second["TrainingJobSummaries"]] == names
    assert "NextToken" not in second
    assert sm.list_training_jobs(NameContains=unique, StatusEquals="Completed")["TrainingJobSummaries"] == []
    after = sm.list_training_jobs(NameContains=unique,
                                  CreationTimeAfter=listed[1]["CreationTime"] + datetime.timedelta(milliseconds=1))
    assert [s["TrainingJobName"] for s in after["TrainingJobSummaries"]] == names[2:]
    assert error_of(sm.list_training_jobs, NextToken="garbage")[0] == "ValidationException"


def test_server_restart_during_a_job_fails_it_with_the_reason(jobs, tmp_path, unique):  # type: ignore[no-untyped-def]
    source = put(jobs.s3(), f"code/{unique}/sourcedir.tar.gz", sourcedir({"probe.py": PROBE}))
    data_dir = tmp_path / "restart-server"
    server = start_server(data_dir, env=server_env(jobs.moto))
    try:
        sm = client_for(server, "sagemaker")
        sm.create_training_job(**training_request(unique, program="probe.py", submit=source,
                                                  output=f"s3://{BUCKET}/out", hyperparameters={"mode": "sleep"}))
        wait_secondary(sm, unique, "Training")
        deadline = time.monotonic() + 30
        while not any(data_dir.glob(f"jobs/*/*/training/{unique}/opt_ml/model")):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        server.stop()
        server = start_server(data_dir, env=server_env(jobs.moto))
        sm = client_for(server, "sagemaker")
        described = sm.describe_training_job(TrainingJobName=unique)
        assert described["TrainingJobStatus"] == "Failed"
        assert described["SecondaryStatus"] == "Failed"
        assert described["FailureReason"] == ("The modelyard server restarted while the job was running; "
                                              "start it again")
        assert "TrainingEndTime" in described
    finally:
        server.stop()
