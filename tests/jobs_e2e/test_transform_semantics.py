"""Batch transform semantics end to end, table-driven: a real server, boto3, moto S3 (and local
paths), and the test model run by the toolkit. Each case uploads its input, runs one job and
compares every ``.out`` byte for byte."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

moto, server, sm = module_fixtures("transform-semantics")

model = model_fixture("semantics-model")


TEXT = b"a\nb\nc\n"
JSONL = b'{"id":1,"x":[1,2]}\n{"id":2,"x":[3]}\n'
LONG_LINES = [b"abcdefghij%06d" % i for i in range(120_000)]


def _arrays(out: bytes) -> list[list[str]]:
    return [json.loads(line) for line in out.decode().splitlines()]


def _check_small_payload(out: bytes) -> None:
    arrays = _arrays(out)
    assert len(arrays) == 2, "2 MB of lines with MaxPayloadInMB=1 must take two requests"
    assert [item for array in arrays for item in array] == [line.decode().upper() for line in LONG_LINES]


@dataclass
class Case:
    """One job: input objects, request settings, and the expected .out bytes (or a checker)."""

    name: str
    content_type: str
    accept: str
    inputs: dict[str, bytes]
    expected: dict[str, bytes | Callable[[bytes], None]]
    settings: dict[str, Any] = field(default_factory=dict)
    local: bool = False


CASES = [
    Case("line-single-assemble-line", "text/plain", "application/json", {"t.txt": TEXT},
         {"t.txt.out": b'["A"]\n["B"]\n["C"]\n'}, {"strategy": "SingleRecord"}),
    Case("line-multi-assemble-line", "text/plain", "application/json", {"t.txt": TEXT},
         {"t.txt.out": b'["A","B","C"]\n'}, {"strategy": "MultiRecord"}),
    Case("line-single-assemble-none", "text/plain", "application/json", {"t.txt": TEXT},
         {"t.txt.out": b'["A"]["B"]["C"]'}, {"strategy": "SingleRecord", "assemble": "None"}),
    Case("line-multi-assemble-none", "text/plain", "text/csv", {"t.txt": TEXT},
         {"t.txt.out": b"A\nB\nC"}, {"strategy": "MultiRecord", "assemble": "None"}),
    Case("split-none-whole-object", "text/plain", "application/json", {"t.txt": b"x\r\n\ny\n"},
         {"t.txt.out": b'["X\\r","Y"]'}, {"split": "None", "strategy": "SingleRecord", "assemble": "None"}),
    Case("line-split-skips-blank-lines-and-cr", "text/plain", "application/json", {"t.txt": b"x\r\n\ny\n"},
         {"t.txt.out": b'["X","Y"]\n'}, {"strategy": "MultiRecord"}),
    Case("multi-record-respects-payload", "text/plain", "application/json",
         {"big.txt": b"\n".join(LONG_LINES) + b"\n"}, {"big.txt.out": _check_small_payload},
         {"strategy": "MultiRecord", "MaxPayloadInMB": 1}),
    Case("csv-join-input", "text/csv", "text/csv", {"d.csv": b"1,2\n3,4\n"},
         {"d.csv.out": b"1,2,6.0\n3,4,14.0\n"}, {"DataProcessing": {"JoinSource": "Input"}}),
    Case("csv-input-filter-join-output-filter", "text/csv", "text/csv", {"d.csv": b"7,1,2\n8,3,4\n"},
         {"d.csv.out": b"7,6.0\n8,14.0\n"},
         {"DataProcessing": {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}}),
    Case("csv-single-record-join", "text/csv", "text/csv", {"d.csv": b"1,2\n3,4\n"},
         {"d.csv.out": b"1,2,6.0\n3,4,14.0\n"},
         {"strategy": "SingleRecord", "DataProcessing": {"JoinSource": "Input"}}),
    Case("jsonlines-join-output-filter", "application/jsonlines", "application/jsonlines", {"d.jsonl": JSONL},
         {"d.jsonl.out": b'{"id":1,"SageMakerOutput":{"score":6.0}}\n{"id":2,"SageMakerOutput":{"score":6.0}}\n'},
         {"DataProcessing": {"JoinSource": "Input", "OutputFilter": "$['id','SageMakerOutput']"}}),
    Case("json-input-filter-array-reply-join", "application/jsonlines", "application/json", {"d.jsonl": JSONL},
         {"d.jsonl.out": b'{"id":1,"x":[1,2],"SageMakerOutput":{"score":6.0}}\n'
                         b'{"id":2,"x":[3],"SageMakerOutput":{"score":6.0}}\n'},
         {"DataProcessing": {"InputFilter": "$.x", "JoinSource": "Input"}}),
    Case("json-output-filter-only", "application/jsonlines", "application/jsonlines", {"d.jsonl": JSONL},
         {"d.jsonl.out": b"6.0\n6.0\n"}, {"DataProcessing": {"OutputFilter": "$.score"}}),
    Case("gzip-input", "text/plain", "application/json", {"t.txt.gz": gzip.compress(TEXT)},
         {"t.txt.gz.out": b'["A","B","C"]\n'}, {"compression": "Gzip"}),
    Case("file-paths-in-and-out", "text/plain", "application/json", {"t.txt": TEXT, "sub/u.txt": b"d\n"},
         {"t.txt.out": b'["A","B","C"]\n', "sub/u.txt.out": b'["D"]\n'}, {}, local=True),
]


def _request(case: Case, name: str, model: str, input_uri: str, output_uri: str) -> dict[str, Any]:
    settings = dict(case.settings)
    options = {key: settings.pop(key) for key in ("split", "strategy", "assemble") if key in settings}
    compression = settings.pop("compression", None)
    request = transform_request(name, model, input_uri, output_uri, content_type=case.content_type,
                                accept=case.accept, **options, **settings)
    if compression:
        request["TransformInput"]["CompressionType"] = compression
    return request


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_transform_semantics(sm, moto, model, tmp_path: Path, unique: str, case: Case) -> None:  # type: ignore[no-untyped-def]
    s3 = moto.client()
    if case.local:
        for relative, data in case.inputs.items():
            (tmp_path / "in" / relative).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "in" / relative).write_bytes(data)
        input_uri, output_uri = f"file://{tmp_path}/in/", f"file://{tmp_path}/out"
    else:
        for relative, data in case.inputs.items():
            s3.put_object(Bucket=BUCKET, Key=f"{unique}/in/{relative}", Body=data)
        input_uri, output_uri = f"s3://{BUCKET}/{unique}/in/", f"s3://{BUCKET}/{unique}/out"
    sm.create_transform_job(**_request(case, unique, model, input_uri, output_uri))
    described = wait_for_job(sm, unique)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")

    if case.local:
        written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
                         if p.is_file())
    else:
        written = [key[len(f"{unique}/out/"):] for key in s3_keys(s3, f"{unique}/out/")]
    assert written == sorted(case.expected)
    for relative, expected in case.expected.items():
        out = (tmp_path / "out" / relative).read_bytes() if case.local else s3_read(s3, f"{unique}/out/{relative}")
        if callable(expected):
            expected(out)
        else:
            assert out == expected


def test_a_record_larger_than_the_payload_limit_fails_its_file(sm, moto, model, unique: str) -> None:  # type: ignore[no-untyped-def]
    s3 = moto.client()
    s3.put_object(Bucket=BUCKET, Key=f"{unique}/in/big.txt", Body=b"x" * (1024 * 1024 + 10))
    sm.create_transform_job(**transform_request(
        unique, model, f"s3://{BUCKET}/{unique}/in/", f"s3://{BUCKET}/{unique}/out", content_type="text/plain",
        accept="application/json", split="None", MaxPayloadInMB=1))
    described = wait_for_job(sm, unique)
    assert described["TransformJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert f"s3://{BUCKET}/{unique}/in/big.txt" in reason and "record 1" in reason and "MaxPayloadInMB" in reason
    assert s3_keys(s3, f"{unique}/out/") == []
