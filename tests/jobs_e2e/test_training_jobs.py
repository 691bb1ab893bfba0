"""Training jobs end to end: real boto3, a real server, real scripts in the sandbox, moto S3."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.jobs_e2e.jobs_support import (
    BUCKET,
    Stack,
    log_lines,
    put,
    read_tarball,
    sourcedir,
    stack,
    training_request,
    wait_secondary,
    wait_training,
)
from tests.jobs_e2e.training_scripts import PROBE

GROUP = "/aws/sagemaker/TrainingJobs"


@pytest.fixture(scope="module")
def jobs() -> Stack:
    return stack()


@pytest.fixture(scope="module")
def probe_source(jobs: Stack) -> str:
    """The probe's sourcedir.tar.gz in moto S3."""
    return put(jobs.s3(), "code/probe/sourcedir.tar.gz", sourcedir({"probe.py": PROBE}))


@pytest.fixture()
def sm(jobs: Stack) -> Any:
    return jobs.client("sagemaker")


def assert_published_to_cloudwatch(jobs: Stack, job: str, name: str, last: float) -> None:
    """The metric definition's values reach CloudWatch under /aws/sagemaker/TrainingJobs, Host=<job>/algo-1."""
    cw, now, deadline = jobs.client("cloudwatch"), time.time(), time.monotonic() + 10
    while True:
        points = cw.get_metric_statistics(
            Namespace="/aws/sagemaker/TrainingJobs", MetricName=name, Period=3600, Statistics=["Maximum"],
            StartTime=now - 1800, EndTime=now + 1800, Dimensions=[{"Name": "Host", "Value": f"{job}/algo-1"}],
        )["Datapoints"]
        if points or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert points and points[0]["Maximum"] == pytest.approx(last)


def probe_job(sm: Any, name: str, source: str, mode: str, **extra: Any) -> dict[str, Any]:
    """Start the probe with ``--mode mode`` (no channels, output to moto)."""
    hyperparameters = {"mode": mode, **extra.pop("hyperparameters", {})}
    sm.create_training_job(**training_request(name, program="probe.py", submit=source, output=f"s3://{BUCKET}/out",
                                              hyperparameters=hyperparameters, **extra))
    return sm.describe_training_job(TrainingJobName=name)  # type: ignore[no-any-return]


def test_script_mode_sees_sagemakers_environment_and_produces_artifacts(jobs, sm, probe_source, unique):  # type: ignore[no-untyped-def]
    s3 = jobs.s3()
    put(s3, f"{unique}/train/a.csv", "1,2\n")
    put(s3, f"{unique}/train/nested/b.csv", "3,4\n")
    put(s3, f"{unique}/validation/v.csv", "5,6\n")
    request = training_request(
        unique, program="probe.py", submit=probe_source, output=f"s3://{BUCKET}/models",
        channels={"train": f"s3://{BUCKET}/{unique}/train/", "validation": f"s3://{BUCKET}/{unique}/validation"},
        hyperparameters={"epochs": "3", "learning-rate": "0.05", "label": "quoted value with spaces"},
        Environment={"MY_SETTING": "on"})
    request["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "train:loss", "Regex": r"train_loss=(.*?);"}, {"Name": "accuracy", "Regex": r"accuracy: ([0-9.]+)"},
        {"Name": "never", "Regex": r"never-printed=(\d+)"}]
    arn = sm.create_training_job(**request)["TrainingJobArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:000000000000:training-job/{unique}"
    described = wait_training(sm, unique)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["SecondaryStatus"] == "Completed"
    assert [t["Status"] for t in described["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert all("EndTime" in t and t["StatusMessage"] for t in described["SecondaryStatusTransitions"])
    assert described["CreationTime"] <= described["TrainingStartTime"] <= described["TrainingEndTime"]
    assert described["TrainingTimeInSeconds"] >= 0 and described["BillableTimeInSeconds"] >= 0
    assert described["HyperParameters"]["epochs"] == "3"
    assert described["ResourceConfig"]["InstanceCount"] == 1
    assert described["StoppingCondition"]["MaxRuntimeInSeconds"] == 600
    assert described["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "FullyReplicated"
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert metrics == {"train:loss": pytest.approx(0.3333), "accuracy": pytest.approx(0.7)}
    assert_published_to_cloudwatch(jobs, unique, "accuracy", 0.7)
    model_uri = described["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_uri == f"s3://{BUCKET}/models/{unique}/output/model.tar.gz"

    model = read_tarball(s3.get_object(Bucket=BUCKET, Key=f"models/{unique}/output/model.tar.gz")["Body"].read())
    output = read_tarball(s3.get_object(Bucket=BUCKET, Key=f"models/{unique}/output/output.tar.gz")["Body"].read())
    assert output == {"notes.txt": b"non-model output"}
    report = json.loads(model["report.json"])
    env = report["env"]
    assert report["argv"][1:] == ["--epochs", "3", "--label", "quoted value with spaces", "--learning-rate", "0.05"]
    assert report["args"] == {"epochs": 3, "learning_rate": 0.05, "mode": "ok", "label": "quoted value with spaces"}
    assert report["cwd"] == "/opt/ml/code"
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert env["SM_OUTPUT_DATA_DIR"] == "/opt/ml/output/data"
    assert env["SM_INPUT_DIR"] == "/opt/ml/input"
    assert env["SM_INPUT_CONFIG_DIR"] == "/opt/ml/input/config"
    assert json.loads(env["SM_CHANNELS"]) == ["train", "validation"]
    assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert env["SM_CHANNEL_VALIDATION"] == "/opt/ml/input/data/validation"
    assert json.loads(env["SM_HPS"]) == {"epochs": 3, "learning-rate": 0.05, "label": "quoted value with spaces"}
    assert env["SM_HP_EPOCHS"] == "3" and env["SM_HP_LEARNING-RATE"] == "0.05" and "SM_HP_MODE" not in env
    assert int(env["SM_NUM_CPUS"]) == min(2, os.cpu_count() or 1) and env["SM_NUM_GPUS"] == "0"  # ml.m5.large's quota
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"] and env["SM_CURRENT_HOST"] == "algo-1"
    assert env["SM_LOG_LEVEL"] == "20" and env["SM_USER_ENTRY_POINT"] == "probe.py"
    assert env["SM_MODULE_DIR"] == probe_source and env["SM_MODULE_NAME"] == "probe"
    assert env["TRAINING_JOB_NAME"] == unique and env["TRAINING_JOB_ARN"] == arn
    assert env["MY_SETTING"] == "on" and env["PYTHONPATH"] == "/opt/ml/code"
    training_env = json.loads(env["SM_TRAINING_ENV"])
    assert training_env["job_name"] == unique and training_env["hyperparameters"]["epochs"] == 3
    config = report["config"]
    assert config["hyperparameters.json"]["epochs"] == "3"
    assert config["hyperparameters.json"]["sagemaker_program"] == '"probe.py"'
    assert config["inputdataconfig.json"]["train"] == {"TrainingInputMode": "File", "S3DistributionType":
                                                       "FullyReplicated", "RecordWrapperType": "None",
                                                       "CompressionType": "None"}
    assert config["resourceconfig.json"]["current_host"] == "algo-1"
    assert config["resourceconfig.json"]["hosts"] == ["algo-1"]
    assert report["channels"] == {"train": ["a.csv", "nested/b.csv"], "validation": ["v.csv"]}

    lines = log_lines(jobs.client("logs"), GROUP, unique)
    assert "probe finished" in lines and "epoch=2 train_loss=0.3333; accuracy: 0.70" in lines


def test_exception_fails_with_the_tracebacks_last_line(sm, probe_source, unique):  # type: ignore[no-untyped-def]
    probe_job(sm, unique, probe_source, "raise")
    described = wait_training(sm, unique)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["SecondaryStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("AlgorithmError: ")
    assert 'ErrorMessage "ValueError: bad input rows: 3"' in reason and "ExitCode 1" in reason
    assert "ModelArtifacts" not in described
    assert described["SecondaryStatusTransitions"][-1]["StatusMessage"] == reason
    assert "FinalMetricDataList" not in described


def test_failure_file_is_the_reason(sm, probe_source, unique):  # type: ignore[no-untyped-def]
    probe_job(sm, unique, probe_source, "failure-file")
    described = wait_training(sm, unique)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"] == "AlgorithmError: The label column is missing from the training data"


def test_stop_ends_the_job_and_logs_are_live(jobs, sm, probe_source, unique):  # type: ignore[no-untyped-def]
    logs = jobs.client("logs")
    probe_job(sm, unique, probe_source, "save-sleep")
    wait_secondary(sm, unique, "Training")
    deadline = time.monotonic() + 30
    while "probe started" not in log_lines(logs, GROUP, unique):
        assert time.monotonic() < deadline, "the running job's output never reached the log stream"
        time.sleep(0.1)
    streams = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=unique)["logStreams"]
    assert len(streams) == 1 and streams[0]["logStreamName"].startswith(f"{unique}/algo-1-")
    assert sm.describe_training_job(TrainingJobName=unique)["TrainingJobStatus"] == "InProgress"

    sm.stop_training_job(TrainingJobName=unique)
    stopping = sm.describe_training_job(TrainingJobName=unique)
    assert stopping["TrainingJobStatus"] in ("Stopping", "Stopped")
    described = wait_training(sm, unique, timeout=30)
    assert described["TrainingJobStatus"] == "Stopped"
    assert described["SecondaryStatus"] == "Stopped"
    statuses = [t["Status"] for t in described["SecondaryStatusTransitions"]]
    assert statuses[-2:] == ["Stopping", "Stopped"]
    assert "FailureReason" not in described
    assert described["ModelArtifacts"]["S3ModelArtifacts"].endswith(f"/{unique}/output/model.tar.gz")
    with pytest.raises(ClientError) as info:
        sm.stop_training_job(TrainingJobName=unique)
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_max_runtime_stops_the_job(sm, probe_source, unique):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    probe_job(sm, unique, probe_source, "sleep", max_runtime=3)
    described = wait_training(sm, unique, timeout=60)
    assert described["TrainingJobStatus"] == "Stopped"
    assert described["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert 3 <= time.monotonic() - started < 40
    assert "ModelArtifacts" not in described


def test_missing_input_fails_naming_the_uri(sm, probe_source, unique, tmp_path):  # type: ignore[no-untyped-def]
    missing = f"s3://{BUCKET}/{unique}/nothing-here/"
    sm.create_training_job(**training_request(unique, program="probe.py", submit=probe_source,
                                              output=f"s3://{BUCKET}/out", channels={"train": missing}))
    described = wait_training(sm, unique)
    assert described["TrainingJobStatus"] == "Failed"
    assert missing in described["FailureReason"] and "channel 'train'" in described["FailureReason"]
    assert [t["Status"] for t in described["SecondaryStatusTransitions"]][-2:] == ["Downloading", "Failed"]


def test_local_paths_gzip_and_manifest_channels(sm, unique, tmp_path):  # type: ignore[no-untyped-def]
    import gzip

    code = tmp_path / "code"
    code.mkdir()
    (code / "probe.py").write_text(PROBE)
    (tmp_path / "zipped").mkdir()
    (tmp_path / "zipped" / "part.csv.gz").write_bytes(gzip.compress(b"unzipped text\n"))
    (tmp_path / "pool").mkdir()
    (tmp_path / "pool" / "one.csv").write_text("one\n")
    (tmp_path / "pool" / "two.csv").write_text("two\n")
    manifest = tmp_path / "train.manifest"
    manifest.write_text(json.dumps([{"prefix": f"file://{tmp_path}/pool/"}, "one.csv"]))
    request = training_request(unique, program="probe.py", submit=f"file://{code}", output=str(tmp_path / "out"),
                               channels={"train": str(tmp_path / "zipped")})
    request["InputDataConfig"][0]["CompressionType"] = "Gzip"
    request["InputDataConfig"].append({"ChannelName": "picked", "DataSource": {"S3DataSource": {
        "S3DataType": "ManifestFile", "S3Uri": f"file://{manifest}"}}})
    sm.create_training_job(**request)
    described = wait_training(sm, unique)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == str(tmp_path / "out" / unique / "output" / "model.tar.gz")
    model = read_tarball((tmp_path / "out" / unique / "output" / "model.tar.gz").read_bytes())
    report = json.loads(model["report.json"])
    assert report["channels"] == {"train": ["part.csv"], "picked": ["one.csv"]}
    assert report["train_text"] == {"part.csv": "unzipped text\n"}


def test_output_that_cannot_be_written_fails_the_job_without_artifacts(sm, probe_source, unique):  # type: ignore[no-untyped-def]
    output = f"s3://no-such-bucket-{unique}/models"
    sm.create_training_job(**training_request(unique, program="probe.py", submit=probe_source, output=output))
    described = wait_training(sm, unique)
    assert described["TrainingJobStatus"] == "Failed"
    assert f"{output}/{unique}/output/" in described["FailureReason"]
    assert "ModelArtifacts" not in described
    assert [t["Status"] for t in described["SecondaryStatusTransitions"]][-2:] == ["Uploading", "Failed"]
