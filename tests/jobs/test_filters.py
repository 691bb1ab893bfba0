"""DataProcessing: InputFilter, JoinSource and OutputFilter on CSV and JSON records."""

from __future__ import annotations

import json

import pytest

from modelyard.jobs import (
    DataFormat,
    DataProcessing,
    DataProcessingError,
    InvalidJsonPathError,
    JoinSource,
    RecordProcessor,
    data_format_for,
)

CSV, JSON = DataFormat.CSV, DataFormat.JSON


def _proc(
    input_filter: str | None = None,
    join: str | None = None,
    output_filter: str | None = None,
    fmt_in: DataFormat | None = CSV,
    fmt_out: DataFormat | None = CSV,
) -> RecordProcessor:
    wire = {
        k: v
        for k, v in {"InputFilter": input_filter, "JoinSource": join, "OutputFilter": output_filter}.items()
        if v is not None
    }
    return RecordProcessor(DataProcessing.from_wire(wire), fmt_in, fmt_out)


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/csv", CSV),
        ("text/csv; charset=utf-8", CSV),
        ("TEXT/CSV", CSV),
        ("application/csv", CSV),
        ("application/json", JSON),
        ("application/jsonlines", JSON),
        ("application/x-jsonlines", JSON),
        ("application/vnd.api+json", JSON),
        ("application/x-npy", None),
        ("image/jpeg", None),
        (None, None),
        ("", None),
    ],
)
def test_data_format_for(content_type: str | None, expected: DataFormat | None) -> None:
    assert data_format_for(content_type) is expected


def test_from_wire_defaults_and_validation() -> None:
    default = DataProcessing.from_wire(None)
    assert default.is_identity and not default.per_record_outputs
    assert DataProcessing.from_wire({"JoinSource": "Input"}).per_record_outputs
    assert DataProcessing.from_wire({"OutputFilter": "$[0]"}).per_record_outputs
    assert not DataProcessing.from_wire({"InputFilter": "$[1:]"}).per_record_outputs
    assert DataProcessing.from_wire({"JoinSource": "Input"}).join_source is JoinSource.INPUT
    with pytest.raises(ValueError, match="unknown JoinSource 'input'"):
        DataProcessing.from_wire({"JoinSource": "input"})
    with pytest.raises(InvalidJsonPathError, match="invalid JSONPath 'features'"):
        DataProcessing.from_wire({"InputFilter": "features"})
    with pytest.raises(InvalidJsonPathError, match=r"invalid JSONPath '\$\.\.x'"):
        DataProcessing.from_wire({"OutputFilter": "$..x"})


@pytest.mark.parametrize(
    ("path", "record", "expected"),
    [
        ("$", b"id1,1,2,3", b"id1,1,2,3"),
        ("$[1:]", b"id1,1,2,3", b"1,2,3"),
        ("$[1:2]", b"id1,1,2,3", b"1,2"),
        ("$[0]", b"id1,1,2,3", b"id1"),
        ("$[-1]", b"id1,1,2,3", b"3"),
        ("$[0,2]", b"id1,1,2,3", b"id1,2"),
        ("$[1:]", b'id1,"a,b",c', b'"a,b",c'),
        ("$[1:]", b'id1,"say ""hi""",x', b'"say ""hi""",x'),
        ("$[1:]", b"id1,1,2\r\n", b"1,2"),
        ("$[1:]", b"id1,,3", b",3"),
        ("$[1:]", "é,ü,ß".encode(), "ü,ß".encode()),
    ],
)
def test_csv_input_filter(path: str, record: bytes, expected: bytes) -> None:
    assert _proc(input_filter=path).filter_input(record) == expected


@pytest.mark.parametrize(
    ("path", "record", "expected"),
    [
        ("$", b'{"id": 1, "features": [1, 2]}', b'{"id": 1, "features": [1, 2]}'),
        ("$.features", b'{"id": 1, "features": [1, 2]}', b"[1,2]"),
        ("$.features[0]", b'{"id": 1, "features": [1.5, 2]}', b"1.5"),
        ("$['features']", b'{"id": 1, "features": [1, 2]}', b"[1,2]"),
        ("$['a','b']", '{"a": "x", "b": "é", "c": 3}'.encode(), '{"a":"x","b":"é"}'.encode()),
        ("$[1:]", b"[0, 1, 2]", b"[1,2]"),
        ("$.f.g", b'{"f": {"g": null}}', b"null"),
    ],
)
def test_json_input_filter(path: str, record: bytes, expected: bytes) -> None:
    assert _proc(input_filter=path, fmt_in=JSON).filter_input(record) == expected


@pytest.mark.parametrize(
    ("kwargs", "record", "error", "fragment"),
    [
        ({"input_filter": "$[5]"}, b"a,b", DataProcessingError, "index 5 is outside"),
        ({"input_filter": "$.x", "fmt_in": JSON}, b'{"y": 1}', DataProcessingError, "no 'x'"),
        ({"input_filter": "$.x", "fmt_in": JSON}, b"not json", DataProcessingError, "not valid JSON"),
        ({"input_filter": "$[1:]"}, b'a,"unterminated', DataProcessingError, "not a valid CSV row"),
    ],
)
def test_input_filter_errors(kwargs: dict, record: bytes, error: type, fragment: str) -> None:
    with pytest.raises(error, match=fragment):
        _proc(**kwargs).filter_input(record)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"input_filter": "$.features"}, "selects by name, but CSV rows are arrays"),
        ({"join": "Input", "output_filter": "$['id','SageMakerOutput']"}, "selects by name"),
        (
            {"input_filter": "$[1:]", "fmt_in": None},
            "InputFilter or JoinSource=Input needs CSV or JSON input",
        ),
        ({"join": "Input", "fmt_in": None}, "needs CSV or JSON input (ContentType)"),
        ({"output_filter": "$[0]", "fmt_out": None}, "OutputFilter needs CSV or JSON output (Accept)"),
    ],
)
def test_configuration_errors(kwargs: dict, fragment: str) -> None:
    with pytest.raises(DataProcessingError) as info:
        _proc(**kwargs)
    assert fragment in str(info.value)


def test_identity_passes_any_bytes_through() -> None:
    proc = _proc(fmt_in=None, fmt_out=None)
    assert proc.filter_input(b"\x00\xff binary") == b"\x00\xff binary"
    assert proc.finish(b"\x00", b"\x89PNG") == b"\x89PNG"


@pytest.mark.parametrize(
    ("kwargs", "record", "output", "expected"),
    [
        ({"join": "Input"}, b"1,2,3", b"1", b"1,2,3,1"),
        ({"join": "Input"}, b"1,2,3", b"1\n", b"1,2,3,1"),
        ({"join": "Input"}, b"1,2,3", b"0.2,0.8\r\n", b"1,2,3,0.2,0.8"),
        ({"join": "Input", "input_filter": "$[1:]"}, b"id9,1,2", b"0.5", b"id9,1,2,0.5"),
        ({"join": "Input", "output_filter": "$[0,-1]"}, b"id9,1,2", b"0.5", b"id9,0.5"),
        ({"join": "Input", "output_filter": "$[0,3:]"}, b"id9,1,2", b"a,b", b"id9,a,b"),
        ({"join": "Input"}, b'x,"a,b"', b'"c,d"', b'x,"a,b","c,d"'),
        ({"join": "Input", "fmt_out": JSON}, b"1,2", b"[0.1, 0.9]", b"1,2,0.1,0.9"),
        ({"join": "Input", "fmt_out": JSON}, b"1,2", b"0.7", b"1,2,0.7"),
        ({"join": "Input", "fmt_out": JSON}, b"1,2", b'{"p": 1}', b'1,2,"{""p"":1}"'),
        ({"output_filter": "$[1]"}, b"ignored", b"0.1,0.9", b"0.9"),
        ({}, b"1,2", b"raw output\n", b"raw output\n"),
    ],
)
def test_csv_join_and_output_filter(kwargs: dict, record: bytes, output: bytes, expected: bytes) -> None:
    assert _proc(**kwargs).finish(record, output) == expected


@pytest.mark.parametrize(
    ("kwargs", "record", "output", "expected"),
    [
        ({"join": "Input"}, b'{"key": 1}', b'{"label": 1}', {"key": 1, "SageMakerOutput": {"label": 1}}),
        ({"join": "Input"}, b'{"key": 1}', b"0.25", {"key": 1, "SageMakerOutput": 0.25}),
        ({"join": "Input"}, b'{"key": 1}', b"positive\n", {"key": 1, "SageMakerOutput": "positive"}),
        ({"join": "Input"}, b'{"key": 1, "SageMakerOutput": "old"}', b"2", {"key": 1, "SageMakerOutput": 2}),
        ({"join": "Input"}, b"[1, 2, 3]", b"[1]", {"SageMakerInput": [1, 2, 3], "SageMakerOutput": [1]}),
        ({"join": "Input"}, b'"text"', b"7", {"SageMakerInput": "text", "SageMakerOutput": 7}),
        (
            {"join": "Input", "input_filter": "$.features", "output_filter": "$['id','SageMakerOutput']"},
            b'{"id": "a", "features": [1, 2]}',
            b'{"p": 0.9}',
            {"id": "a", "SageMakerOutput": {"p": 0.9}},
        ),
        ({"join": "Input", "output_filter": "$.SageMakerOutput.p"}, b'{"id": 1}', b'{"p": 3}', 3),
        ({"output_filter": "$.p"}, b"{}", b'{"p": [1, 2], "q": 0}', [1, 2]),
    ],
)
def test_json_join_and_output_filter(kwargs: dict, record: bytes, output: bytes, expected: object) -> None:
    proc = _proc(fmt_in=JSON, fmt_out=JSON, **kwargs)
    assert json.loads(proc.finish(record, output)) == expected


def test_output_filter_errors() -> None:
    with pytest.raises(DataProcessingError, match="index 9 is outside"):
        _proc(join="Input", output_filter="$[9]").finish(b"1,2", b"3")
    with pytest.raises(DataProcessingError, match="spans several lines"):
        _proc(join="Input").finish(b"1,2", b"3\n4\n")
    with pytest.raises(DataProcessingError, match="model output is not valid JSON"):
        _proc(output_filter="$.a", fmt_in=JSON, fmt_out=JSON).finish(b"{}", b"oops")
    with pytest.raises(DataProcessingError, match="input record is not valid JSON"):
        _proc(join="Input", fmt_in=JSON, fmt_out=JSON).finish(b"{bad", b"1")


@pytest.mark.parametrize(
    ("response", "count", "fmt_out", "expected"),
    [
        (b"whatever\nlines", 1, CSV, [b"whatever\nlines"]),
        (b"1\n2\n3\n", 3, CSV, [b"1", b"2", b"3"]),
        (b"1\r\n2\r\n", 2, CSV, [b"1", b"2"]),
        (b"1\n\n3", 3, CSV, [b"1", b"", b"3"]),
        (b'{"a":1}\n{"a":2}', 2, JSON, [b'{"a":1}', b'{"a":2}']),
        (b'[{"a": 1}, {"a": 2}]', 2, JSON, [b'{"a":1}', b'{"a":2}']),
        (b"[0.1, 0.2, 0.3]", 3, JSON, [b"0.1", b"0.2", b"0.3"]),
    ],
)
def test_split_outputs(response: bytes, count: int, fmt_out: DataFormat, expected: list[bytes]) -> None:
    assert _proc(join="Input", fmt_in=fmt_out, fmt_out=fmt_out).split_outputs(response, count) == expected


@pytest.mark.parametrize(
    ("response", "count", "fmt_out"),
    [(b"1\n2\n", 3, CSV), (b"[1, 2]", 3, JSON), (b"1\n2\n3\n4", 3, CSV), (b"not json", 2, JSON)],
)
def test_split_outputs_count_mismatch(response: bytes, count: int, fmt_out: DataFormat) -> None:
    with pytest.raises(DataProcessingError, match=f"for a request of {count} records"):
        _proc(join="Input", fmt_in=fmt_out, fmt_out=fmt_out).split_outputs(response, count)


def test_end_to_end_csv_multirecord_pipeline() -> None:
    from modelyard.jobs import assemble, make_batches, split_records

    proc = _proc(input_filter="$[1:]", join="Input", output_filter="$[0,-1]")
    raw = split_records(b"id1,1,2\nid2,3,4\n\nid3,5,6\n", "Line")
    sent = [proc.filter_input(r) for r in raw]
    outputs: list[bytes] = []
    for batch in make_batches(sent, "Line", "MultiRecord", 8):
        response = b"\n".join(str(sum(int(x) for x in r.split(b","))).encode() for r in batch.records) + b"\n"
        per_record = proc.split_outputs(response, len(batch.records))
        outputs += [proc.finish(raw[i], out) for i, out in zip(batch.indexes, per_record, strict=True)]
    assert assemble(outputs, "Line") == b"id1,3\nid2,7\nid3,11\n"
