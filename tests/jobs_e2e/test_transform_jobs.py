"""Transform jobs end to end: validation errors as SageMaker words them, several files in order,
a failing record, manifests, the container environment and execution parameters, logs, stop, a
server restart in the middle of a job, and a Serial multi-container model (a Direct one is refused)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.hosting.models import BROKEN_MODEL_FN, GENERIC_IMAGE, package
from tests.hosting.test_multi_container import STEP
from tests.jobs_e2e.transform_env import (
    BUCKET,
    ONE_WORKER,
    ROLE,
    client_for,
    create_model,
    model_artifact,
    module_fixtures,
    s3_keys,
    s3_read,
    server_env,
    transform_request,
    wait_for_job,
)
from tests.support.moto_s3 import MotoS3Server
from tests.support.server import ServerProcess, start_server

pytestmark = pytest.mark.slow

moto, server, sm = module_fixtures("transform-jobs")


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_artifact(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def model(sm, artifact: Path) -> str:  # type: ignore[no-untyped-def]
    create_model(sm, "jobs-model", artifact)
    return "jobs-model"


def _text_job(name: str, model: str, prefix: str, **extra):  # type: ignore[no-untyped-def]
    return transform_request(name, model, f"s3://{BUCKET}/{prefix}/in/", f"s3://{BUCKET}/{prefix}/out",
                             content_type="text/plain", accept="application/json", **extra)


def _error(info: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


@pytest.mark.parametrize("change, code, words", [
    ({"ModelName": "no-such-model"}, "ValidationException", 'Could not find model "no-such-model".'),
    ({"DataProcessing": {"InputFilter": "$[1:"}}, "ValidationException", "'$[1:'"),
    ({"DataProcessing": {"OutputFilter": "x.y"}}, "ValidationException", "OutputFilter 'x.y'"),
    ({"DataProcessing": {"InputFilter": "$.a"}, "TransformInput": {"ContentType": "text/csv", "DataSource": {
        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/x/"}}}}, "ValidationException",
     "CSV rows are arrays"),
    ({"MaxPayloadInMB": 101}, "ValidationException", "at most 100"),
    ({"MaxPayloadInMB": 30, "MaxConcurrentTransforms": 4}, "ValidationException", "must not exceed 100"),
    ({"BatchStrategy": "Sometimes"}, "ValidationException", "batchStrategy"),
    ({"TransformInput": {"SplitType": "Word", "DataSource": {
        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/x/"}}}}, "ValidationException",
     "splitType"),
])
def test_create_refuses_bad_requests(sm, model: str, unique: str, change, code: str, words: str) -> None:  # type: ignore[no-untyped-def]
    request = {**_text_job(unique, model, unique), **change}
    with pytest.raises(ClientError) as info:
        sm.create_transform_job(**request)
    assert _error(info)[0] == code
    assert words in _error(info)[1]
    with pytest.raises(ClientError) as info:
        sm.describe_transform_job(TransformJobName=unique)
    assert _error(info) == ("ValidationException", f"Could not find requested job with name {unique}")


def test_describe_list_duplicate_and_logs(sm, server: ServerProcess, moto, model: str, unique: str) -> None:  # type: ignore[no-untyped-def]
    s3 = moto.client()
    s3.put_object(Bucket=BUCKET, Key=f"{unique}/in/t.txt", Body=b"a\nb\n")
    request = _text_job(unique, model, unique, Environment={"GREETING": "hi"},
                        ModelClientConfig={"InvocationsTimeoutInSeconds": 30, "InvocationsMaxRetries": 1},
                        DataProcessing={"JoinSource": "None"}, Tags=[{"Key": "team", "Value": "ml"}])
    arn = sm.create_transform_job(**request)["TransformJobArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:000000000000:transform-job/{unique}"
    with pytest.raises(ClientError) as info:
        sm.create_transform_job(**request)
    assert _error(info)[0] == "ResourceInUse" and arn in _error(info)[1]

    described = wait_for_job(sm, unique)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    for key in ("TransformJobName", "TransformJobArn", "ModelName", "TransformInput", "TransformOutput",
                "TransformResources", "BatchStrategy", "Environment", "DataProcessing", "ModelClientConfig",
                "CreationTime", "TransformStartTime", "TransformEndTime"):
        assert key in described, key
    assert "FailureReason" not in described and "_Containers" not in described
    assert described["CreationTime"] <= described["TransformStartTime"] <= described["TransformEndTime"]
    assert described["Environment"] == {"GREETING": "hi"}

    summaries = sm.list_transform_jobs(NameContains=unique)["TransformJobSummaries"]
    assert [(s["TransformJobName"], s["TransformJobStatus"]) for s in summaries] == [(unique, "Completed")]
    assert "TransformEndTime" in summaries[0] and "LastModifiedTime" in summaries[0]
    assert sm.list_transform_jobs(NameContains=unique, StatusEquals="Failed")["TransformJobSummaries"] == []
    page = sm.list_transform_jobs(MaxResults=1, SortBy="Name", SortOrder="Ascending")
    assert len(page["TransformJobSummaries"]) == 1
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]

    logs = client_for(server, "logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TransformJobs",
                                        logStreamNamePrefix=unique)["logStreams"]
    names = sorted(s["logStreamName"] for s in streams)
    assert len(names) == 2 and names[0].startswith(f"{unique}/i-") and names[1] == names[0] + "/data-log"
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TransformJobs", logStreamName=names[1])["events"]
    assert any("BatchStrategy=MultiRecord" in e["message"] for e in events)


def test_many_files_two_instances_keep_order_and_one_bad_record_fails_only_its_file(  # type: ignore[no-untyped-def]
        sm, moto, model: str, unique: str) -> None:
    s3 = moto.client()
    files = {f"part-{i}.txt": [f"r{i}x{j}" for j in range(300)] for i in range(4)}
    files["sub/bad.txt"] = ["fine", "also fine", "fail", "never reached"]
    for relative, lines in files.items():
        s3.put_object(Bucket=BUCKET, Key=f"{unique}/in/{relative}", Body="\n".join(lines).encode())
    request = _text_job(unique, model, unique, strategy="SingleRecord", MaxConcurrentTransforms=4)
    request["TransformResources"]["InstanceCount"] = 2
    sm.create_transform_job(**request)
    described = wait_for_job(sm, unique)
    assert described["TransformJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("1 of 5 input file(s) failed."), reason
    assert f"s3://{BUCKET}/{unique}/in/sub/bad.txt: record 3" in reason
    assert "cannot read the line fail" in reason
    assert s3_keys(s3, f"{unique}/out/") == [f"{unique}/out/part-{i}.txt.out" for i in range(4)]
    for i in range(4):
        expected = "".join(f'["{line.upper()}"]\n' for line in files[f"part-{i}.txt"]).encode()
        assert s3_read(s3, f"{unique}/out/part-{i}.txt.out") == expected


def test_manifest_input_names_outputs_by_manifest_entries(sm, moto, model: str, unique: str) -> None:  # type: ignore[no-untyped-def]
    s3 = moto.client()
    for relative, body in {"data/a.txt": b"a\n", "data/deep/b.txt": b"b\n", "data/c.txt": b"c\n"}.items():
        s3.put_object(Bucket=BUCKET, Key=f"{unique}/{relative}", Body=body)
    manifest = f'[{{"prefix": "s3://{BUCKET}/{unique}/data/"}}, "deep/b.txt", "a.txt"]'
    s3.put_object(Bucket=BUCKET, Key=f"{unique}/input.manifest", Body=manifest.encode())
    sm.create_transform_job(**transform_request(
        unique, model, f"s3://{BUCKET}/{unique}/input.manifest", f"s3://{BUCKET}/{unique}/out",
        content_type="text/plain", accept="application/json", data_type="ManifestFile"))
    described = wait_for_job(sm, unique)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert s3_keys(s3, f"{unique}/out/") == [f"{unique}/out/a.txt.out", f"{unique}/out/deep/b.txt.out"]
    assert s3_read(s3, f"{unique}/out/deep/b.txt.out") == b'["B"]\n'


@pytest.mark.parametrize("source, words", [
    ("empty-prefix", "No objects found under the input S3Uri"),
    ("bad-manifest", "is not valid JSON"),
    ("unwritable-output", "could not write s3://no-such-bucket-zz/out/t.txt.out"),
])
def test_input_problems_fail_the_job(sm, moto, model: str, unique: str, source: str, words: str) -> None:  # type: ignore[no-untyped-def]
    s3 = moto.client()
    if source == "bad-manifest":
        s3.put_object(Bucket=BUCKET, Key=f"{unique}/m.manifest", Body=b"[not json")
        request = transform_request(unique, model, f"s3://{BUCKET}/{unique}/m.manifest", f"s3://{BUCKET}/{unique}/o",
                                    content_type="text/plain", accept="application/json", data_type="ManifestFile")
    else:
        request = _text_job(unique, model, unique)
    if source == "unwritable-output":
        s3.put_object(Bucket=BUCKET, Key=f"{unique}/in/t.txt", Body=b"a\n")
        request["TransformOutput"]["S3OutputPath"] = "s3://no-such-bucket-zz/out"
    sm.create_transform_job(**request)
    described = wait_for_job(sm, unique)
    assert described["TransformJobStatus"] == "Failed"
    assert words in described["FailureReason"]


def test_container_environment_and_execution_parameters(sm, moto, artifact: Path, unique: str) -> None:  # type: ignore[no-untyped-def]
    create_model(sm, unique, artifact, env={"SAGEMAKER_BATCH_STRATEGY": "SingleRecord", "FROM_MODEL": "m"})
    s3 = moto.client()
    names = ["SAGEMAKER_BATCH", "SAGEMAKER_MAX_PAYLOAD_IN_MB", "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS",
             "SAGEMAKER_BATCH_STRATEGY", "FROM_MODEL", "FROM_JOB"]
    s3.put_object(Bucket=BUCKET, Key=f"{unique}/in/env.txt", Body="\n".join(f"env:{n}" for n in names).encode())
    sm.create_transform_job(**_text_job(unique, unique, unique, strategy=None, MaxPayloadInMB=2,
                                        Environment={"FROM_JOB": "j"}))
    described = wait_for_job(sm, unique)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    out = s3_read(s3, f"{unique}/out/env.txt.out")
    # BatchStrategy came from the container's /execution-parameters (SingleRecord): one array per record.
    assert out == b'["true"]\n["2"]\n["<unset>"]\n["SingleRecord"]\n["m"]\n["j"]\n'


def test_stop_a_running_job(sm, moto, model: str, unique: str) -> None:  # type: ignore[no-untyped-def]
    s3 = moto.client()
    s3.put_object(Bucket=BUCKET, Key=f"{unique}/in/slow.txt", Body=b"sleep\n" * 60)
    sm.create_transform_job(**_text_job(unique, model, unique, strategy="SingleRecord"))
    wait_for_job(sm, unique, statuses=("InProgress",))
    deadline = time.monotonic() + 60
    while "TransformStartTime" not in sm.describe_transform_job(TransformJobName=unique):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sm.stop_transform_job(TransformJobName=unique)
    assert sm.describe_transform_job(TransformJobName=unique)["TransformJobStatus"] in ("Stopping", "Stopped")
    started = time.monotonic()
    described = wait_for_job(sm, unique, timeout=30)
    assert described["TransformJobStatus"] == "Stopped"
    assert time.monotonic() - started < 15
    assert s3_keys(s3, f"{unique}/out/") == []
    with pytest.raises(ClientError) as info:
        sm.stop_transform_job(TransformJobName=unique)
    assert _error(info) == ("ValidationException",
                            "The request was rejected because the transform job is in status Stopped.")


def test_a_container_that_dies_fails_the_job_with_its_exit_code(sm, moto, artifact: Path, unique: str) -> None:  # type: ignore[no-untyped-def]
    create_model(sm, unique, artifact, ONE_WORKER)
    moto.client().put_object(Bucket=BUCKET, Key=f"{unique}/in/t.txt", Body=b"a\nexit\nb\n")
    sm.create_transform_job(**_text_job(unique, unique, unique, strategy="SingleRecord"))
    described = wait_for_job(sm, unique, timeout=60)
    assert described["TransformJobStatus"] == "Failed"
    reason = described["FailureReason"]
    # the three records went to the toolkit in one batch frame: the exit is blamed on the records of that frame
    assert f"t.txt: records 1-3: the container exited with code 3; see log stream {unique}/i-" in reason, reason


def test_a_worker_that_dies_fails_the_job_and_points_to_its_log(  # type: ignore[no-untyped-def]
        sm, moto, server: ServerProcess, model: str, unique: str) -> None:
    """With one worker per vCPU (ml.m5.large: two), a worker that exits is restarted by the toolkit, so the
    container lives on: the records of the frame it held fail with the log stream that says why."""
    moto.client().put_object(Bucket=BUCKET, Key=f"{unique}/in/t.txt", Body=b"a\nexit\nb\n")
    sm.create_transform_job(**_text_job(unique, model, unique, strategy="SingleRecord"))
    described = wait_for_job(sm, unique, timeout=60)
    assert described["TransformJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "t.txt: records 1-3: the request to the model failed (connection closed before a response frame); " \
           f"see log stream {unique}/i-" in reason, reason
    logs = client_for(server, "logs")
    stream = next(s["logStreamName"] for s in logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix=unique)["logStreams"]
        if not s["logStreamName"].endswith("/data-log"))
    assert f"see log stream {stream}" in reason, reason
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TransformJobs", logStreamName=stream)["events"]
    assert any("exited with code 3; restarting" in e["message"] for e in events), [e["message"] for e in events]


def test_a_model_that_cannot_load_fails_the_job(sm, tmp_path: Path, unique: str) -> None:  # type: ignore[no-untyped-def]
    broken = package(tmp_path, {"code/inference.py": BROKEN_MODEL_FN})
    create_model(sm, unique, broken)
    sm.create_transform_job(**_text_job(unique, unique, unique))
    described = wait_for_job(sm, unique, timeout=60)
    assert described["TransformJobStatus"] == "Failed"
    assert "weights.bin is missing from the artifact" in described["FailureReason"]
    assert "TransformStartTime" not in described


@pytest.mark.parametrize("how, words", [
    ("kill", "server restarted while this transform job was running"),
    ("terminate", "server shut down while this transform job was running"),
])
def test_a_server_that_goes_away_mid_job_leaves_it_failed(tmp_path: Path, moto, artifact: Path,  # type: ignore[no-untyped-def]
                                                          unique: str, how: str, words: str) -> None:
    data_dir = tmp_path / "data"
    first = start_server(data_dir, env=server_env(moto))
    try:
        sm = client_for(first, "sagemaker")
        create_model(sm, unique, artifact)
        moto.client().put_object(Bucket=BUCKET, Key=f"{unique}/in/slow.txt", Body=b"sleep\n" * 60)
        sm.create_transform_job(**_text_job(unique, unique, unique, strategy="SingleRecord"))
        deadline = time.monotonic() + 60
        while "TransformStartTime" not in sm.describe_transform_job(TransformJobName=unique):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        os.kill(first.process.pid, signal.SIGKILL if how == "kill" else signal.SIGTERM)
        first.process.wait(30)
    finally:
        first.stop()
    second = start_server(data_dir, env=server_env(moto))
    try:
        described = client_for(second, "sagemaker").describe_transform_job(TransformJobName=unique)
    finally:
        second.stop()
    assert described["TransformJobStatus"] == "Failed"
    assert words in described["FailureReason"]
    assert "TransformEndTime" in described


def _pipeline_containers(artifact: Path) -> list[dict[str, object]]:
    data = f"file://{artifact}"
    return [{"Image": GENERIC_IMAGE, "ModelDataUrl": data, "ContainerHostname": "doubler",
             "Environment": {"STEP": "double", "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}},
            {"Image": GENERIC_IMAGE, "ModelDataUrl": data, "ContainerHostname": "incrementer",
             "Environment": {"STEP": "increment"}}]


def test_transform_runs_a_serial_pipeline(server: ServerProcess, moto: MotoS3Server, tmp_path: Path,
                                          unique: str) -> None:
    """Every record goes through the Serial pipeline on each instance (one log stream per container)."""
    sm, logs = client_for(server, "sagemaker"), client_for(server, "logs")
    s3 = moto.client()
    artifact = package(tmp_path, {"code/inference.py": STEP})
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, Containers=_pipeline_containers(artifact))
    for index, values in enumerate(([1, 2], [10], [6.5])):
        s3.put_object(Bucket=BUCKET, Key=f"{unique}/in/part-{index}.json", Body=json.dumps({"x": values}).encode())
    sm.create_transform_job(**transform_request(unique, unique, f"s3://{BUCKET}/{unique}/in/",
                                                f"s3://{BUCKET}/{unique}/out", content_type="application/json",
                                                accept="application/json", split="None", strategy="SingleRecord"))
    described = wait_for_job(sm, unique)
    assert described["TransformJobStatus"] == "Failed", "one file fails in the second container"
    assert "container incrementer answered HTTP" in described["FailureReason"] or "part-2" in \
        described["FailureReason"], described["FailureReason"]
    assert json.loads(s3_read(s3, f"{unique}/out/part-0.json.out")) == {"x": [3.0, 5.0]}
    assert json.loads(s3_read(s3, f"{unique}/out/part-1.json.out")) == {"x": [21.0]}

    streams = [s["logStreamName"] for s in logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix=f"{unique}/")["logStreams"]]
    assert {s.rsplit("/", 1)[1] for s in streams} >= {"doubler", "incrementer", "data-log"}, streams
    data_log = next(s for s in streams if s.endswith("/data-log"))
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TransformJobs", logStreamName=data_log)["events"]
    assert any("container incrementer answered HTTP" in e["message"] and "refuses 13" in e["message"]
               for e in events), [e["message"] for e in events]


def test_transform_refuses_a_direct_model(server: ServerProcess, tmp_path: Path, unique: str) -> None:
    """A record cannot name a container, so a Direct model cannot run a transform job."""
    sm = client_for(server, "sagemaker")
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, Containers=_pipeline_containers(package(tmp_path, {
        "code/inference.py": STEP})), InferenceExecutionConfig={"Mode": "Direct"})
    with pytest.raises(ClientError) as refused:
        sm.create_transform_job(**transform_request(unique, unique, f"s3://{BUCKET}/x/", f"s3://{BUCKET}/y",
                                                    content_type="application/json", accept="application/json"))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Mode Serial" in refused.value.response["Error"]["Message"]
