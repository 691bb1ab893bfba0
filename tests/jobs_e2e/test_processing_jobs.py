"""Processing jobs end to end: the seeds' SKLearnProcessor train/test split, shaped as the SDK sends it."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.jobs_e2e.jobs_support import BUCKET, GENERIC_IMAGE, ROLE, Stack, log_lines, put, stack, wait_processing

GROUP = "/aws/sagemaker/ProcessingJobs"
PREPROCESSING = r'''
import argparse, os, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("--train-test-split-ratio", type=float, default=0.3)
parser.add_argument("--mode", default="ok")
args = parser.parse_args()
print("Received arguments", vars(args))
if args.mode == "sleep":
    print("preprocessing started", flush=True)
    time.sleep(120)
rows = []
for name in sorted(os.listdir("/opt/ml/processing/input")):
    if not os.path.isfile(os.path.join("/opt/ml/processing/input", name)):
        continue
    with open(os.path.join("/opt/ml/processing/input", name)) as handle:
        rows += [line for line in handle.read().splitlines() if line]
if args.mode == "fail":
    raise RuntimeError(f"cannot split {len(rows)} rows")
cut = int(len(rows) * (1 - args.train_test_split_ratio))
for folder, part in (("train", rows[:cut]), ("test", rows[cut:])):
    with open(f"/opt/ml/processing/{folder}/{folder}.csv", "w") as handle:
        handle.write("\n".join(part) + "\n")
with open("/opt/ml/processing/train/meta/setting.txt" if os.path.isdir("/opt/ml/processing/train/meta")
          else "/opt/ml/processing/test/setting.txt", "w") as handle:
    handle.write(os.environ.get("SPLIT_SETTING", "<unset>"))
print(f"Wrote {cut} train rows and {len(rows) - cut} test rows")
'''


@pytest.fixture(scope="module")
def jobs() -> Stack:
    return stack()


@pytest.fixture()
def sm(jobs: Stack) -> Any:
    return jobs.client("sagemaker")


def processing_request(name: str, code_uri: str, data_uri: str, output_prefix: str, *arguments: str,
                       max_runtime: int = 600) -> dict[str, Any]:
    """CreateProcessingJob as SKLearnProcessor.run(code=..., inputs=..., outputs=..., arguments=...) sends it."""
    def s3_input(input_name: str, uri: str, local: str) -> dict[str, Any]:
        return {"InputName": input_name, "AppManaged": False, "S3Input": {
            "S3Uri": uri, "LocalPath": local, "S3DataType": "S3Prefix", "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None"}}

    def s3_output(output_name: str, local: str) -> dict[str, Any]:
        return {"OutputName": output_name, "AppManaged": False, "S3Output": {
            "S3Uri": f"{output_prefix}/{output_name}", "LocalPath": local, "S3UploadMode": "EndOfJob"}}

    request: dict[str, Any] = {
        "ProcessingJobName": name, "RoleArn": ROLE,
        "ProcessingInputs": [s3_input("input-1", data_uri, "/opt/ml/processing/input"),
                             s3_input("code", code_uri, "/opt/ml/processing/input/code")],
        "ProcessingOutputConfig": {"Outputs": [s3_output("train_data", "/opt/ml/processing/train"),
                                               s3_output("test_data", "/opt/ml/processing/test")]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                                  "VolumeSizeInGB": 30}},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        "AppSpecification": {"ImageUri": GENERIC_IMAGE,
                             "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/preprocessing.py"]},
        "Environment": {"SPLIT_SETTING": "from-environment"},
    }
    if arguments:
        request["AppSpecification"]["ContainerArguments"] = list(arguments)
    return request


@pytest.fixture()
def staged(jobs: Stack, unique: str) -> dict[str, str]:
    s3 = jobs.s3()
    rows = "\n".join(f"{i},{i * 2}" for i in range(10)) + "\n"
    return {"code": put(s3, f"{unique}/input/code/preprocessing.py", PREPROCESSING),
            "data": put(s3, f"{unique}/raw/data.csv", rows), "output": f"s3://{BUCKET}/{unique}/output"}


def keys(jobs: Stack, prefix: str) -> list[str]:
    listing = jobs.s3().list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"] for item in listing)


def body(jobs: Stack, key: str) -> str:
    return jobs.s3().get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()  # type: ignore[no-any-return]


def test_train_test_split_writes_two_outputs(jobs, sm, unique, staged):  # type: ignore[no-untyped-def]
    data_prefix = staged["data"].rsplit("/", 1)[0]
    request = processing_request(unique, staged["code"], data_prefix, staged["output"],
                                 "--train-test-split-ratio", "0.2")
    arn = sm.create_processing_job(**request)["ProcessingJobArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:000000000000:processing-job/{unique}"
    described = wait_processing(sm, unique)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    assert described["ProcessingInputs"][1]["S3Input"]["LocalPath"] == "/opt/ml/processing/input/code"
    assert described["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == f"{staged['output']}/train_data"
    assert described["AppSpecification"]["ContainerArguments"] == ["--train-test-split-ratio", "0.2"]
    assert described["Environment"] == {"SPLIT_SETTING": "from-environment"}
    assert described["RoleArn"] == ROLE
    assert described["CreationTime"] <= described["ProcessingStartTime"] <= described["ProcessingEndTime"]
    assert "FailureReason" not in described
    assert keys(jobs, f"{unique}/output/") == [f"{unique}/output/test_data/setting.txt",
                                                f"{unique}/output/test_data/test.csv",
                                                f"{unique}/output/train_data/train.csv"]
    assert body(jobs, f"{unique}/output/train_data/train.csv").splitlines() == [f"{i},{i * 2}" for i in range(8)]
    assert body(jobs, f"{unique}/output/test_data/test.csv").splitlines() == ["8,16", "9,18"]
    assert body(jobs, f"{unique}/output/test_data/setting.txt") == "from-environment"
    lines = log_lines(jobs.client("logs"), GROUP, unique)
    assert "Wrote 8 train rows and 2 test rows" in lines
    streams = jobs.client("logs").describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=unique)["logStreams"]
    assert streams[0]["logStreamName"].startswith(f"{unique}/algo-1-")
    summaries = sm.list_processing_jobs(NameContains=unique)["ProcessingJobSummaries"]
    assert [(s["ProcessingJobName"], s["ProcessingJobStatus"]) for s in summaries] == [(unique, "Completed")]


def test_failure_has_a_reason_and_uploads_nothing(jobs, sm, unique, staged):  # type: ignore[no-untyped-def]
    sm.create_processing_job(**processing_request(unique, staged["code"], staged["data"], staged["output"],
                                                  "--mode", "fail"))
    described = wait_processing(sm, unique)
    assert described["ProcessingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("AlgorithmError: ")
    assert "RuntimeError: cannot split 10 rows" in described["FailureReason"]
    assert described["ExitMessage"] == "RuntimeError: cannot split 10 rows"
    assert keys(jobs, f"{unique}/output/") == []
    listed = sm.list_processing_jobs(NameContains=unique, StatusEquals="Failed")["ProcessingJobSummaries"]
    assert listed[0]["FailureReason"] == described["FailureReason"]


def test_stop_and_max_runtime(jobs, sm, unique, staged):  # type: ignore[no-untyped-def]
    logs = jobs.client("logs")
    stopped, timed = f"{unique}-stop", f"{unique}-time"
    sm.create_processing_job(**processing_request(stopped, staged["code"], staged["data"], staged["output"],
                                                  "--mode", "sleep"))
    sm.create_processing_job(**processing_request(timed, staged["code"], staged["data"], staged["output"],
                                                  "--mode", "sleep", max_runtime=3))
    deadline = time.monotonic() + 60
    while "preprocessing started" not in log_lines(logs, GROUP, stopped):
        assert time.monotonic() < deadline, "the running job's output never reached the log stream"
        time.sleep(0.1)
    assert sm.describe_processing_job(ProcessingJobName=stopped)["ProcessingJobStatus"] == "InProgress"
    sm.stop_processing_job(ProcessingJobName=stopped)
    assert sm.describe_processing_job(ProcessingJobName=stopped)["ProcessingJobStatus"] in ("Stopping", "Stopped")
    assert wait_processing(sm, stopped, timeout=30)["ProcessingJobStatus"] == "Stopped"
    described = wait_processing(sm, timed, timeout=60)
    assert described["ProcessingJobStatus"] == "Stopped"
    assert "MaxRuntimeInSeconds" in described["FailureReason"]
    assert keys(jobs, f"{unique}/output/") == []


def test_missing_input_fails_naming_the_uri(sm, unique, staged):  # type: ignore[no-untyped-def]
    missing = f"s3://{BUCKET}/{unique}/no-such-data/"
    sm.create_processing_job(**processing_request(unique, staged["code"], missing, staged["output"]))
    described = wait_processing(sm, unique)
    assert described["ProcessingJobStatus"] == "Failed"
    assert missing in described["FailureReason"] and "input-1" in described["FailureReason"]


def error_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_api_errors(sm, unique, staged):  # type: ignore[no-untyped-def]
    assert error_of(sm.describe_processing_job, ProcessingJobName=unique) == (
        "ValidationException", f"Could not find requested job with name {unique}")
    outside = processing_request(unique, staged["code"], staged["data"], staged["output"])
    outside["ProcessingInputs"][0]["S3Input"]["LocalPath"] = "/home/data"
    code, message = error_of(sm.create_processing_job, **outside)
    assert code == "ValidationException" and "/opt/ml/processing/" in message
    twice = processing_request(unique, staged["code"], staged["data"], staged["output"])
    twice["ProcessingInputs"][1]["InputName"] = "input-1"
    assert "'input-1' appears more than once" in error_of(sm.create_processing_job, **twice)[1]
    arn = sm.create_processing_job(**processing_request(unique, staged["code"], staged["data"],
                                                        staged["output"]))["ProcessingJobArn"]
    code, message = error_of(sm.create_processing_job, **processing_request(unique, staged["code"], staged["data"],
                                                                           staged["output"]))
    assert code == "ResourceInUse" and arn in message
    wait_processing(sm, unique)
    assert error_of(sm.stop_processing_job, ProcessingJobName=unique)[0] == "ValidationException"
