"""SingleRecord transform through pipelined connections, end to end: a real server, boto3, moto S3 and
the test model run by the toolkit. Output order is input order however many requests are in flight
and however slow some records are; a failing record in the middle fails its file with SageMaker's
message (naming the record) while the others are written."""

from __future__ import annotations

import pytest

from tests.jobs_e2e.transform_env import (
    BUCKET,
    model_fixture,
    module_fixtures,
    s3_keys,
    s3_read,
    transform_request,
    wait_for_job,
)

pytestmark = pytest.mark.slow

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
