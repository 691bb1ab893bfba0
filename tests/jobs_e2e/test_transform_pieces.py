"""The transform runner's pure parts: fast Line pieces agree with split + make_batches, replies map
back to records in order, settings resolve as SageMaker resolves them, inputs are named right."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelyard.controllers.transform.controller import MAX_REASON, failure_reason
from modelyard.controllers.transform.files import FileFailed, line_pieces, plan_file
from modelyard.controllers.transform.inputs import InputError, list_inputs, output_uri
from modelyard.controllers.transform.run import Outcome
from modelyard.controllers.transform.settings import (
    container_environment,
    needs_execution_parameters,
    parse_execution_parameters,
    resolve_settings,
)
from modelyard.jobs import RecordTooLargeError, make_batches, split_records
from modelyard.storage import ObjectStore

LINES = st.lists(st.binary(min_size=1, max_size=12).filter(lambda b: b"\n" not in b and b"\r" not in b),
                 max_size=40)


@settings(max_examples=300, deadline=None)
@given(LINES, st.booleans(), st.integers(min_value=1, max_value=60))
def test_line_pieces_equal_split_and_make_batches(lines: list[bytes], trailing: bool, limit: int) -> None:
    payload = b"\n".join(lines) + (b"\n" if trailing and lines else b"")
    records = split_records(payload, "Line")
    try:
        expected = [(b.start, len(b.records), b.body) for b in make_batches(records, "Line", "MultiRecord", limit)]
    except RecordTooLargeError as exc:
        with pytest.raises(RecordTooLargeError) as info:
            line_pieces(payload, limit)
        assert (info.value.index, info.value.size) == (exc.index, exc.size)
        return
    pieces = line_pieces(payload, limit)
    assert pieces is not None
    assert [(p.start, p.count, p.body) for p in pieces] == expected


@pytest.mark.parametrize("payload", [b"a\n\nb", b"a\r\nb", b"\na"])
def test_line_pieces_leave_blank_lines_and_cr_to_the_general_path(payload: bytes) -> None:
    assert line_pieces(payload, 10) is None


def _job(**extra):  # type: ignore[no-untyped-def]
    job = {"TransformInput": {"ContentType": "text/csv", "SplitType": "Line",
                              "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/p/"}}},
           "TransformOutput": {"S3OutputPath": "s3://b/o", "Accept": "text/csv", "AssembleWith": "Line"}}
    job.update(extra)
    return job


def test_replies_map_back_to_records_in_input_order_whatever_order_they_arrive() -> None:
    spec = resolve_settings(_job(BatchStrategy="SingleRecord", DataProcessing={"JoinSource": "Input"}), {}).spec
    work = plan_file(b"1,2\n3,4\n5,6\n", spec)
    assert [p.body for p in work.pieces] == [b"1,2", b"3,4", b"5,6"]
    for index in (2, 0, 1):
        assert not work.done
        work.accept(index, str(index).encode())
    assert work.done
    assert work.result() == b"1,2,0\n3,4,1\n5,6,2\n"


def test_a_multi_record_reply_with_the_wrong_line_count_fails_the_file() -> None:
    spec = resolve_settings(_job(DataProcessing={"JoinSource": "Input"}), {}).spec
    work = plan_file(b"1,2\n3,4\n", spec)
    with pytest.raises(FileFailed, match="records 1-2: the model returned 1 line"):
        work.accept(0, b"only-one")


def test_input_filter_errors_name_the_record() -> None:
    spec = resolve_settings(_job(DataProcessing={"InputFilter": "$[3]"}), {}).spec
    with pytest.raises(FileFailed, match=r"record 2: InputFilter"):
        plan_file(b"1,2,3,4\n1,2\n", spec)


def test_gzip_flag_with_plain_data_fails_the_file() -> None:
    job = _job()
    job["TransformInput"]["CompressionType"] = "Gzip"
    with pytest.raises(FileFailed, match="not gzip data"):
        plan_file(b"1,2\n", resolve_settings(job, {}).spec)


def test_settings_take_job_values_then_execution_parameters_then_defaults() -> None:
    suggested = parse_execution_parameters(json.dumps(
        {"MaxConcurrentTransforms": 3, "BatchStrategy": "SingleRecord", "MaxPayloadInMB": 2}).encode())
    resolved = resolve_settings(_job(), suggested)
    assert (resolved.max_concurrent, resolved.spec.strategy.value, resolved.spec.payload_limit) == (
        3, "SingleRecord", 2 * 1048576)
    resolved = resolve_settings(_job(MaxConcurrentTransforms=2, BatchStrategy="MultiRecord", MaxPayloadInMB=0),
                                suggested)
    assert (resolved.max_concurrent, resolved.spec.strategy.value, resolved.spec.payload_limit) == (
        2, "MultiRecord", None)
    resolved = resolve_settings(_job(), parse_execution_parameters(b"not json"))
    assert (resolved.max_concurrent, resolved.spec.strategy.value, resolved.spec.payload_limit) == (
        1, "MultiRecord", 6 * 1048576)
    assert (resolved.timeout, resolved.retries) == (600.0, 3)
    assert parse_execution_parameters(b'{"MaxConcurrentTransforms": 0, "BatchStrategy": "Many"}') == {}
    assert needs_execution_parameters(_job(MaxPayloadInMB=0, BatchStrategy="SingleRecord"))
    assert not needs_execution_parameters(_job(MaxPayloadInMB=0, BatchStrategy="SingleRecord",
                                               MaxConcurrentTransforms=1))


def test_container_environment_layers_model_job_and_batch_variables() -> None:
    env = container_environment(_job(Environment={"A": "job", "B": "job"}, MaxConcurrentTransforms=4,
                                     BatchStrategy="SingleRecord", MaxPayloadInMB=0), {"A": "model", "C": "model"})
    assert env == {"A": "job", "B": "job", "C": "model", "SAGEMAKER_BATCH": "true",
                   "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "4", "SAGEMAKER_BATCH_STRATEGY": "SingleRecord",
                   "SAGEMAKER_MAX_PAYLOAD_IN_MB": "0"}
    assert "SAGEMAKER_BATCH_STRATEGY" not in container_environment(_job(), {})


def test_local_inputs_keep_their_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "a.csv").write_text("1")
    (tmp_path / "in" / "sub" / "b.csv").write_text("2")
    store = ObjectStore()
    inputs = list_inputs(store, {"S3DataType": "S3Prefix", "S3Uri": f"file://{tmp_path}/in/"})
    assert [i.relative for i in inputs] == ["a.csv", "sub/b.csv"]
    single = list_inputs(store, {"S3DataType": "S3Prefix", "S3Uri": str(tmp_path / "in" / "a.csv")})
    assert [i.relative for i in single] == ["a.csv"]
    assert output_uri(store, f"file://{tmp_path}/out", "sub/b.csv") == f"file://{tmp_path}/out/sub/b.csv.out"
    assert output_uri(store, "s3://bkt/out/", "x.csv") == "s3://bkt/out/x.csv.out"
    with pytest.raises(InputError, match="No objects found"):
        list_inputs(store, {"S3DataType": "S3Prefix", "S3Uri": str(tmp_path / "nothing")})
    (tmp_path / "m.manifest").write_text(json.dumps([{"prefix": str(tmp_path / "in")}, "../etc/passwd"]))
    with pytest.raises(InputError, match="not a relative key"):
        list_inputs(store, {"S3DataType": "ManifestFile", "S3Uri": str(tmp_path / "m.manifest")})


def test_failure_reason_lists_files_and_fits_the_wire_limit() -> None:
    outcome = Outcome(files=3, failures=[("s3://b/a.csv", "record 2: boom")])
    assert failure_reason(outcome) == "1 of 3 input file(s) failed. s3://b/a.csv: record 2: boom"
    many = Outcome(files=500, failures=[(f"s3://b/{i}.csv", "x" * 50) for i in range(100)])
    reason = failure_reason(many)
    assert len(reason) == MAX_REASON and reason.endswith("...")
