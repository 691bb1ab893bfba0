"""Batching by BatchStrategy/MaxPayloadInMB, and assembling outputs by AssembleWith."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelyard.jobs import (
    AssembleWith,
    BatchStrategy,
    RecordTooLargeError,
    assemble,
    assemble_chunk,
    join_records,
    make_batches,
    payload_limit,
)
from modelyard.jobs.recordio import encode_recordio


@pytest.mark.parametrize(
    ("mb", "expected"),
    [(None, 6 * 1048576), (6, 6_291_456), (1, 1048576), (100, 100 * 1048576), (0, None)],
)
def test_payload_limit(mb: int | None, expected: int | None) -> None:
    assert payload_limit(mb) == expected


def test_negative_payload_limit() -> None:
    with pytest.raises(ValueError, match="MaxPayloadInMB must be 0 or more"):
        payload_limit(-1)


@pytest.mark.parametrize(
    ("records", "split_type", "body"),
    [
        ([b"a", b"b", b"c"], "Line", b"a\nb\nc"),
        ([b"a"], "Line", b"a"),
        ([], "Line", b""),
        ([b"ab", b"cd"], "RecordIO", b"abcd"),
        ([b"ab", b"cd"], "TFRecord", b"abcd"),
        ([b"whole"], "None", b"whole"),
        ([b"whole"], None, b"whole"),
    ],
)
def test_join_records(records: list[bytes], split_type: str | None, body: bytes) -> None:
    assert join_records(records, split_type) == body


@pytest.mark.parametrize(
    ("records", "split_type", "strategy", "limit", "expected"),
    [
        ([b"aa", b"bb", b"cc"], "Line", "SingleRecord", 100, [(0, b"aa"), (1, b"bb"), (2, b"cc")]),
        ([b"aa", b"bb", b"cc"], "Line", "MultiRecord", 100, [(0, b"aa\nbb\ncc")]),
        ([b"aa", b"bb", b"cc"], "Line", "MultiRecord", 5, [(0, b"aa\nbb"), (2, b"cc")]),
        ([b"aa", b"bb", b"cc"], "Line", "MultiRecord", 4, [(0, b"aa"), (1, b"bb"), (2, b"cc")]),
        ([b"aa", b"bb", b"cc"], "Line", "MultiRecord", 8, [(0, b"aa\nbb\ncc")]),
        ([b"aa", b"bb", b"cc"], "Line", "MultiRecord", 7, [(0, b"aa\nbb"), (2, b"cc")]),
        ([b"aa", b"bb", b"cc"], "RecordIO", "MultiRecord", 4, [(0, b"aabb"), (2, b"cc")]),
        ([b"aa", b"bb", b"cc"], "TFRecord", "MultiRecord", 6, [(0, b"aabbcc")]),
        ([b"a" * 5, b"b", b"c" * 5], "Line", "MultiRecord", 7, [(0, b"aaaaa\nb"), (2, b"ccccc")]),
        ([b"aa", b"bb"], "Line", "MultiRecord", None, [(0, b"aa\nbb")]),
        ([b"aa", b"bb"], "Line", None, None, [(0, b"aa\nbb")]),
        ([b"aa", b"bb"], "Line", BatchStrategy.SINGLE_RECORD, None, [(0, b"aa"), (1, b"bb")]),
        ([], "Line", "MultiRecord", 10, []),
        ([], "Line", "SingleRecord", 10, []),
        ([b"x" * 10], "None", "MultiRecord", 10, [(0, b"x" * 10)]),
    ],
)
def test_make_batches(records: list[bytes], split_type: str, strategy: str | None, limit: int | None,
                      expected: list[tuple[int, bytes]]) -> None:
    batches = make_batches(records, split_type, strategy, limit)
    assert [(b.start, b.body) for b in batches] == expected
    assert [i for b in batches for i in b.indexes] == list(range(len(records)))
    assert [r for b in batches for r in b.records] == records


@pytest.mark.parametrize(
    ("records", "strategy", "limit", "index", "size"),
    [
        ([b"ok", b"x" * 11, b"ok"], "MultiRecord", 10, 1, 11),
        ([b"x" * 11], "SingleRecord", 10, 0, 11),
        ([b"ok", b"ok", b"y" * 20], "SingleRecord", 10, 2, 20),
    ],
)
def test_oversized_record_is_an_error_naming_its_index(records: list[bytes], strategy: str, limit: int,
                                                       index: int, size: int) -> None:
    with pytest.raises(RecordTooLargeError) as info:
        make_batches(records, "Line", strategy, limit)
    assert (info.value.index, info.value.size, info.value.limit) == (index, size, limit)
    assert f"record {index} is {size} bytes" in str(info.value)
    assert "MaxPayloadInMB" in str(info.value)


def test_record_exactly_at_the_limit_fits() -> None:
    assert len(make_batches([b"x" * 1048576], "None", "MultiRecord", payload_limit(1))) == 1
    with pytest.raises(RecordTooLargeError, match="MaxPayloadInMB=1"):
        make_batches([b"x" * 1048577], "None", "MultiRecord", payload_limit(1))


@pytest.mark.parametrize("bad", ["multirecord", "Multi", ""])
def test_unknown_strategy(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown BatchStrategy"):
        make_batches([b"a"], "Line", bad, None)


@given(st.lists(st.binary(min_size=1, max_size=30).filter(lambda b: b"\n" not in b), max_size=30),
       st.integers(min_value=30, max_value=200))
def test_multirecord_batches_respect_the_limit_and_order(records: list[bytes], limit: int) -> None:
    batches = make_batches(records, "Line", "MultiRecord", limit)
    assert all(len(b.body) <= limit for b in batches)
    assert [r for b in batches for r in b.body.split(b"\n") if b.body] == records
    for left, right in zip(batches, batches[1:], strict=False):
        assert len(left.body) + 1 + len(right.records[0]) > limit, "batches are filled greedily"


def test_recordio_batches_are_concatenations_of_framed_records() -> None:
    records = [encode_recordio(bytes([i]) * 10) for i in range(5)]
    batches = make_batches(records, "RecordIO", "MultiRecord", 2 * len(records[0]))
    assert [b.body for b in batches] == [records[0] + records[1], records[2] + records[3], records[4]]


@pytest.mark.parametrize(
    ("outputs", "mode", "expected"),
    [
        ([b"1", b"2", b"3"], "Line", b"1\n2\n3\n"),
        ([b"1\n", b"2\n"], "Line", b"1\n2\n"),
        ([b"1\n2", b"3"], "Line", b"1\n2\n3\n"),
        ([b"1\n2\n", b"3\n"], "Line", b"1\n2\n3\n"),
        ([b""], "Line", b"\n"),
        ([], "Line", b""),
        ([b"1", b"2"], "None", b"12"),
        ([b"1\n", b"2"], None, b"1\n2"),
        ([b"\x00\x01", b"\x02"], AssembleWith.NONE, b"\x00\x01\x02"),
    ],
)
def test_assemble(outputs: list[bytes], mode: str | None, expected: bytes) -> None:
    assert assemble(outputs, mode) == expected
    assert b"".join(assemble_chunk(o, mode) for o in outputs) == expected


@pytest.mark.parametrize("bad", ["line", "Newline", ""])
def test_unknown_assemble_with(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown AssembleWith"):
        assemble([b"x"], bad)
