"""Data locations are checked at the API call: the data dir, system areas and paths outside the
allow-list are refused with a ValidationException naming the member; the server's own files are private.

One server in ``allow-list`` mode (MODELYARD_FILE_URIS / MODELYARD_FILE_ROOTS), as server mode runs it.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import client_for
from tests.support.aws_errors import code, error_of, message
from tests.support.server import ServerProcess, start_server

ROLE = "arn:aws:iam::000000000000:role/modelyard"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/modelyard-test-unregistered:1"


@pytest.fixture(scope="module")
def user_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("user-data")
    (root / "model").mkdir()
    (root / "model" / "weights.bin").write_bytes(b"w")
    return root


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, user_root: Path) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("guarded") / "data", env={
        "MODELYARD_FILE_URIS": "allow-list", "MODELYARD_FILE_ROOTS": str(user_root)})
    yield server
    server.stop()


@pytest.fixture()
def sm(guarded: ServerProcess) -> Any:
    return client_for(guarded, "sagemaker")


def refused(err: Any, member: str, guarded: ServerProcess) -> str:
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert code(err) == "ValidationException"
    text = message(err)
    assert text.startswith(f"{member} is not an allowed data location"), text
    assert str(guarded.data_dir) not in text.replace(guarded.data_dir.as_uri(), "<uri>").replace(
        str(guarded.data_dir) + "/", "<given>")
    return text


def model(name: str, url: str, **container: Any) -> dict[str, Any]:
    return {"ModelName": name, "ExecutionRoleArn": ROLE,
            "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": url, **container}}


def test_model_data_in_the_data_dir_is_refused(sm: Any, guarded: ServerProcess, unique: str) -> None:
    err = error_of(sm.create_model, **model(unique, guarded.data_dir.as_uri() + "/"))
    assert "the server's data directory" in refused(err, "PrimaryContainer.ModelDataUrl", guarded)


def test_model_data_outside_the_allow_list_is_refused(sm: Any, guarded: ServerProcess, unique: str) -> None:
    err = error_of(sm.create_model, **model(unique, "file:///etc/"))
    assert "MODELYARD_FILE_ROOTS" in refused(err, "PrimaryContainer.ModelDataUrl", guarded)


def test_model_data_source_in_proc_is_refused(sm: Any, guarded: ServerProcess, unique: str) -> None:
    request = {"ModelName": unique, "ExecutionRoleArn": ROLE, "PrimaryContainer": {
        "Image": IMAGE, "ModelDataSource": {"S3DataSource": {
            "S3Uri": "file:///proc/self/", "S3DataType": "S3Prefix", "CompressionType": "None"}}}}
    err = error_of(sm.create_model, **request)
    assert "system area /proc" in refused(err, "PrimaryContainer.ModelDataSource.S3DataSource.S3Uri", guarded)


def test_model_data_under_an_allowed_root_and_s3_are_accepted(sm: Any, user_root: Path, unique: str) -> None:
    sm.create_model(**model(unique, (user_root / "model").as_uri() + "/"))
    sm.create_model(**model(unique + "s3", "s3://some-bucket/model.tar.gz"))


def training(name: str, channel_uri: str, output: str) -> dict[str, Any]:
    return {"TrainingJobName": name, "RoleArn": ROLE,
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": channel_uri}}}],
            "OutputDataConfig": {"S3OutputPath": output},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600}}


def test_training_channels_and_output_are_checked(sm: Any, guarded: ServerProcess, user_root: Path,
                                                  unique: str) -> None:
    err = error_of(sm.create_training_job, **training(unique, "/sys/", "s3://b/out"))
    refused(err, "InputDataConfig 'train' DataSource.S3DataSource.S3Uri", guarded)
    err = error_of(sm.create_training_job, **training(unique, "s3://b/train/", str(guarded.data_dir / "jobs")))
    refused(err, "OutputDataConfig.S3OutputPath", guarded)
    with pytest.raises(Exception) as absent:
        sm.describe_training_job(TrainingJobName=unique)
    assert "not found" in str(absent.value)


def processing(name: str, input_uri: str, output_uri: str) -> dict[str, Any]:
    return {"ProcessingJobName": name, "RoleArn": ROLE,
            "AppSpecification": {"ImageUri": IMAGE},
            "ProcessingInputs": [{"InputName": "in", "S3Input": {
                "S3Uri": input_uri, "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix",
                "S3InputMode": "File"}}],
            "ProcessingOutputConfig": {"Outputs": [{"OutputName": "out", "S3Output": {
                "S3Uri": output_uri, "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]},
            "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                                      "VolumeSizeInGB": 30}}}


def test_processing_output_to_a_home_directory_is_refused(sm: Any, guarded: ServerProcess, user_root: Path,
                                                         unique: str) -> None:
    err = error_of(sm.create_processing_job, **processing(unique, str(user_root / "model"), "file:///root/.ssh/"))
    refused(err, "ProcessingOutputConfig output 'out' S3Output.S3Uri", guarded)
    err = error_of(sm.create_processing_job, **processing(unique, "/dev/", str(user_root / "out")))
    refused(err, "ProcessingInputs 'in' S3Input.S3Uri", guarded)


def test_transform_input_and_output_are_checked(sm: Any, guarded: ServerProcess, user_root: Path,
                                               unique: str) -> None:
    sm.create_model(**model(unique, "s3://some-bucket/model.tar.gz"))
    request = {"TransformJobName": unique, "ModelName": unique,
               "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                                  "S3Uri": guarded.data_dir.as_uri() + "/"}}},
               "TransformOutput": {"S3OutputPath": str(user_root / "out")},
               "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}
    err = error_of(sm.create_transform_job, **request)
    refused(err, "TransformInput.DataSource.S3DataSource.S3Uri", guarded)
    request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] = str(user_root / "model")
    request["TransformOutput"]["S3OutputPath"] = "/etc/cron.d"
    refused(error_of(sm.create_transform_job, **request), "TransformOutput.S3OutputPath", guarded)


def test_the_data_dir_is_0700_and_the_database_and_logs_0600(guarded: ServerProcess, unique: str) -> None:
    logs = client_for(guarded, "logs")
    logs.create_log_group(logGroupName=f"/test/{unique}")
    logs.create_log_stream(logGroupName=f"/test/{unique}", logStreamName="s")
    logs.put_log_events(logGroupName=f"/test/{unique}", logStreamName="s",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "hello"}])
    data_dir = guarded.data_dir
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    database_files = list(data_dir.glob("modelyard.db*"))
    assert database_files
    for path in database_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    log_files = [path for path in (data_dir / "logs").rglob("*") if path.is_file()]
    assert log_files
    for path in log_files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path.relative_to(data_dir)


def test_a_path_that_turns_into_a_link_later_fails_the_endpoint(sm, guarded: ServerProcess, user_root: Path,  # type: ignore[no-untyped-def]
                                                                 unique: str) -> None:
    model_dir = user_root / unique
    model_dir.mkdir()
    (model_dir / "weights.bin").write_bytes(b"w")
    sm.create_model(**model(unique, model_dir.as_uri() + "/", Image="modelyard/python:3.11"))
    (model_dir / "weights.bin").unlink()
    model_dir.rmdir()
    model_dir.symlink_to(guarded.data_dir)
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": unique, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    deadline = time.monotonic() + 120
    while (described := sm.describe_endpoint(EndpointName=unique))["EndpointStatus"] == "Creating":
        assert time.monotonic() < deadline, described
        time.sleep(0.2)
    assert described["EndpointStatus"] == "Failed"
    assert "the server's data directory" in described["FailureReason"]
    assert not any((guarded.data_dir / "artifacts" / "models").glob("*/modelyard.db"))


def test_a_processing_input_holding_a_fifo_and_a_dev_zero_link_fails_fast(sm, guarded: ServerProcess,  # type: ignore[no-untyped-def]
                                                                         user_root: Path, unique: str) -> None:
    for special in ("fifo", "zero"):
        name = f"{unique}-{special}"
        source = user_root / name
        source.mkdir()
        (source / "a.csv").write_text("1,2\n")
        if special == "fifo":
            os.mkfifo(source / "b.csv")
        else:
            (source / "b.csv").symlink_to("/dev/zero")
        request = processing(name, str(source), str(user_root / f"{name}-out"))
        request["AppSpecification"] = {"ImageUri": "modelyard/python:3.11", "ContainerEntrypoint": ["true"]}
        sm.create_processing_job(**request)
        deadline = time.monotonic() + 120
        while (job := sm.describe_processing_job(ProcessingJobName=name))["ProcessingJobStatus"] == "InProgress":
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        assert job["ProcessingJobStatus"] == "Failed"
        assert "'b.csv'" in job["FailureReason"], job["FailureReason"]
        assert str(guarded.data_dir) not in job["FailureReason"]
