"""SingleRecord transform through pipelined connections, end to end: a real server, boto3, moto S3 and
the test model run by the toolkit. Output order is input order however many requests are in flight
and however slow some records are; the records travel many to a frame (the job's data log counts the
requests, the model counts its calls: one per record); a failing record in the middle fails its file
with SageMaker's message (naming the record) while the others are written; a toolkit whose answer to a
frame does not fit its records (user code patched it) fails the job with a clear reason."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.hosting.models import package
from tests.jobs_e2e.transform_env import (
    BUCKET,
    client_for,
    create_model,
    model_fixture,
    module_fixtures,
    s3_keys,
    s3_read,
    transform_request,
    wait_for_job,
)
from tests.toolkit.test_batch_frames import HOSTILE

pytestmark = pytest.mark.slow
DATA_LOG_COUNTS = re.compile(r": (\d+) invocations sent in (\d+) requests to the instance")

moto, server, sm = module_fixtures("transform-pipelining")

model = model_fixture("pipelining-model")


def _job(name: str, model: str, **extra):  # type: ignore[no-untyped-def]
    return transform_request(name, model, f"s3://{BUCKET}/{name}/in/", f"s3://{BUCKET}/{name}/out",
                             content_type="text/plain", accept="text/csv", strategy="SingleRecord", **extra)


@pytest.mark.parametrize("concurrent", [1, 3])
def test_output_order_is_input_order_with_slow_records_in_the_pipeline(  # type: ignore[no-untyped-def]
        sm, moto, model: str, unique: str, concurrent: int) -> None:
    """``sleep`` records take a second each, so the records behind them wait in the pipeline while
    other connections run on; the .out must still follow the input line by line."""
    s3 = moto.client()
    lines = [f"r{index:04d}" for index in range(1500)]
    for position in (0, 511, 1022, 1499):
        lines[position] = "sleep"
    s3.put_object(Bucket=BUCKET, Key=f"{unique}/in/data.txt", Body="\n".join(lines).encode() + b"\n")
    sm.create_transform_job(**_job(unique, model, MaxConcurrentTransforms=concurrent))
    described = wait_for_job(sm, unique)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert s3_read(s3, f"{unique}/out/data.txt.out") == "".join(f"{line.upper()}\n" for line in lines).encode()


def test_a_failing_record_mid_pipeline_fails_its_file_and_names_the_record(  # type: ignore[no-untyped-def]
        sm, moto, model: str, unique: str) -> None:
    s3 = moto.client()
    bad = [f"b{index}" for index in range(800)]
    bad[400] = "fail"
    good = [f"g{index}" for index in range(800)]
    s3.put_object(Bucket=BUCKET, Key=f"{unique}/in/a-bad.txt", Body="\n".join(bad).encode())
    s3.put_object(Bucket=BUCKET, Key=f"{unique}/in/b-good.txt", Body="\n".join(good).encode())
    sm.create_transform_job(**_job(unique, model, MaxConcurrentTransforms=2))
    described = wait_for_job(sm, unique)
    assert described["TransformJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("1 of 2 input file(s) failed."), reason
    assert f"s3://{BUCKET}/{unique}/in/a-bad.txt: record 401: the model answered HTTP" in reason, reason
    assert "cannot read the line fail" in reason
    assert s3_keys(s3, f"{unique}/out/") == [f"{unique}/out/b-good.txt.out"]
    assert s3_read(s3, f"{unique}/out/b-good.txt.out") == "".join(f"{line.upper()}\n" for line in good).encode()


def _data_log_counts(server, name: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(invocations, requests) the job's data log reports for its one instance."""
    logs = client_for(server, "logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TransformJobs",
                                        logStreamNamePrefix=name)["logStreams"]
    data_log = next(s["logStreamName"] for s in streams if s["logStreamName"].endswith("/data-log"))
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TransformJobs", logStreamName=data_log)["events"]
    found = [DATA_LOG_COUNTS.search(e["message"]) for e in events]
    counts = [(int(m.group(1)), int(m.group(2))) for m in found if m]
    assert len(counts) == 1, [e["message"] for e in events]
    return counts[0]


@pytest.mark.parametrize("concurrent", [1, 3])
def test_records_go_many_to_a_frame_and_each_is_its_own_call_of_the_model(  # type: ignore[no-untyped-def]
        sm, moto, server, model: str, unique: str, concurrent: int) -> None:
    """Every record answers how many calls of predict_fn its process has made so far: the answers are 1 .. N,
    each once (one call per record, none repeated; with one connection, in input order), while the data log
    counts far fewer requests than records."""
    s3 = moto.client()
    records = 2000
    s3.put_object(Bucket=BUCKET, Key=f"{unique}/in/data.txt", Body=b"calls\n" * records)
    sm.create_transform_job(**_job(unique, model, MaxConcurrentTransforms=concurrent))
    described = wait_for_job(sm, unique)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    answers = [int(line) for line in s3_read(s3, f"{unique}/out/data.txt.out").splitlines()]
    if concurrent == 1:
        assert answers == list(range(1, records + 1))
    else:
        assert sorted(answers) == list(range(1, records + 1))
    invocations, requests = _data_log_counts(server, unique)
    assert invocations == records
    assert requests <= records // 16, f"{records} records in {requests} requests"




def test_a_toolkit_answer_that_does_not_fit_the_frame_fails_the_job(  # type: ignore[no-untyped-def]
        sm, moto, unique: str, tmp_path: Path) -> None:
    """User code runs in the toolkit's process and may change how it answers: one result short for a frame of
    records is caught by the server (no record gets another's answer, no hang)."""
    create_model(sm, unique, package(tmp_path, {"code/inference.py": HOSTILE.format(mode="count")}))
    moto.client().put_object(Bucket=BUCKET, Key=f"{unique}/in/data.txt", Body=b"x\n" * 10)
    sm.create_transform_job(**_job(unique, unique, ModelClientConfig={"InvocationsMaxRetries": 1}))
    described = wait_for_job(sm, unique, timeout=60)
    assert described["TransformJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "data.txt: records 1-10: the request to the model failed (the toolkit answered 9 results to a batch " \
           "of 10 records)" in reason, reason


def test_a_record_past_the_timeout_is_named_while_the_records_around_it_share_its_frame(  # type: ignore[no-untyped-def]
        sm, moto, model: str, unique: str) -> None:
    """InvocationsTimeoutInSeconds is per record, batched or not: the record that hangs fails its file within
    seconds (not the frame's records times the timeout) and the reason names it."""
    moto.client().put_object(Bucket=BUCKET, Key=f"{unique}/in/data.txt", Body=b"a\nb\nhang\nc\nd\n")
    sm.create_transform_job(**_job(unique, model, ModelClientConfig={"InvocationsTimeoutInSeconds": 2,
                                                                     "InvocationsMaxRetries": 0}))
    started = time.monotonic()
    described = wait_for_job(sm, unique, timeout=60)
    assert described["TransformJobStatus"] == "Failed"
    assert time.monotonic() - started < 30
    reason = described["FailureReason"]
    assert "data.txt: record 3: the model did not answer within 2 s (InvocationsTimeoutInSeconds)" in reason, reason
