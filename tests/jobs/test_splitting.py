"""Splitting transform inputs: None, Line, RecordIO and TFRecord (framing kept)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelyard.jobs import RecordFormatError, SplitType, split_lines, split_records
from modelyard.jobs.recordio import MAGIC, encode_recordio, recordio_payload, split_recordio
from modelyard.jobs.tfrecord import crc32c, encode_tfrecord, masked_crc32c, split_tfrecord, tfrecord_payload


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"a,b\nc,d\n", [b"a,b", b"c,d"]),
        (b"a,b\nc,d", [b"a,b", b"c,d"]),
        (b"a\r\nb\r\n", [b"a", b"b"]),
        (b"a\r\nb", [b"a", b"b"]),
        (b"a\n\nb\n\n\n", [b"a", b"b"]),
        (b"\n\na", [b"a"]),
        (b"\r\n", []),
        (b"", []),
        (b"only", [b"only"]),
        (b"  \n\t\n", [b"  ", b"\t"]),
        (b"a\rb\n", [b"a\rb"]),
        (b'{"x": 1}\n{"x": 2}\n', [b'{"x": 1}', b'{"x": 2}']),
        ("é,ü\n".encode(), ["é,ü".encode()]),
    ],
)
def test_line_split(payload: bytes, expected: list[bytes]) -> None:
    assert split_lines(payload) == expected
    assert split_records(payload, "Line") == expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [(b"whole\nobject\n", [b"whole\nobject\n"]), (b"\x00\x01", [b"\x00\x01"]), (b"", [])],
)
@pytest.mark.parametrize("split_type", [None, "None", SplitType.NONE])
def test_none_split_keeps_the_object(payload: bytes, expected: list[bytes], split_type: str | None) -> None:
    assert split_records(payload, split_type) == expected


@pytest.mark.parametrize("bad", ["line", "NONE", "Csv", ""])
def test_unknown_split_type(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown SplitType"):
        split_records(b"x", bad)


def _part(cflag: int, data: bytes) -> bytes:
    return struct.pack("<II", MAGIC, cflag << 29 | len(data)) + data + b"\x00" * (-len(data) % 4)


@pytest.mark.parametrize("data", [b"", b"a", b"ab", b"abc", b"abcd", b"abcde", bytes(range(256))])
def test_recordio_framing_and_padding(data: bytes) -> None:
    framed = encode_recordio(data)
    assert len(framed) % 4 == 0
    assert framed[:4] == struct.pack("<I", MAGIC)
    assert split_recordio(framed) == [framed]
    assert recordio_payload(framed) == data


def test_recordio_several_records_keep_their_framing() -> None:
    records = [encode_recordio(d) for d in (b"one", b"second!", b"", b"4444")]
    assert split_records(b"".join(records), "RecordIO") == records


def test_recordio_multipart_record_is_one_record() -> None:
    multi = _part(1, b"head") + _part(2, b"mid") + _part(3, b"tail")
    single = _part(0, b"solo")
    assert split_recordio(single + multi + single) == [single, multi, single]
    assert (
        recordio_payload(multi)
        == b"head" + struct.pack("<I", MAGIC) + b"mid" + struct.pack("<I", MAGIC) + b"tail"
    )


def test_recordio_last_record_may_lack_padding() -> None:
    framed = encode_recordio(b"abc")[:-1]
    assert split_recordio(framed) == [framed]


@pytest.mark.parametrize(
    ("payload", "fragment", "offset"),
    [
        (b"not recordio at all", "magic number missing at byte 0", 0),
        (encode_recordio(b"ok") + b"junkjunk", "magic number missing at byte 12", 12),
        (encode_recordio(b"ok") + b"\x0a\x23", "truncated inside a header at byte 12", 12),
        (struct.pack("<II", MAGIC, 100) + b"short", "claims 100 bytes", 0),
        (_part(1, b"a"), "has no last part", 0),
        (_part(3, b"a"), "has no first part", 0),
        (_part(2, b"a"), "has no first part", 0),
        (_part(1, b"a") + _part(0, b"b"), "before the record at byte 0 ended", 12),
        (_part(5, b"a"), "invalid flag 5", 0),
    ],
)
def test_recordio_errors(payload: bytes, fragment: str, offset: int) -> None:
    with pytest.raises(RecordFormatError, match=fragment) as info:
        split_records(payload, "RecordIO")
    assert info.value.offset == offset


@pytest.mark.parametrize(
    ("data", "crc"),
    [
        (b"", 0x00000000),
        (b"123456789", 0xE3069283),
        (bytes(32), 0x8A9136AA),
        (b"\xff" * 32, 0x62A8AB43),
        (bytes(range(32)), 0x46DD794E),
        (bytes(range(31, -1, -1)), 0x113FDB5C),
    ],
)
def test_crc32c_known_vectors(data: bytes, crc: int) -> None:
    assert crc32c(data) == crc


def test_masked_crc() -> None:
    assert masked_crc32c(b"") == 0xA282EAD8
    crc = 0xE3069283
    assert masked_crc32c(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


@pytest.mark.parametrize("data", [b"", b"x", b"tf.train.Example bytes" * 10])
def test_tfrecord_framing(data: bytes) -> None:
    framed = encode_tfrecord(data)
    assert len(framed) == 8 + 4 + len(data) + 4
    assert struct.unpack_from("<Q", framed)[0] == len(data)
    assert split_tfrecord(framed, verify_data=True) == [framed]
    assert tfrecord_payload(framed) == data


def test_tfrecord_several_records() -> None:
    records = [encode_tfrecord(d) for d in (b"a", b"", b"ccc")]
    assert split_records(b"".join(records), "TFRecord") == records


def _corrupt_data_crc(framed: bytes) -> bytes:
    return framed[:-1] + bytes([framed[-1] ^ 0xFF])


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"plain text, not a tfrecord at all", "length checksum mismatch at byte 0"),
        (encode_tfrecord(b"ok") + b"\x01\x02", "truncated inside a header at byte 18"),
        (encode_tfrecord(b"0123456789")[:-6], "claims 10 bytes"),
    ],
)
def test_tfrecord_errors(payload: bytes, fragment: str) -> None:
    with pytest.raises(RecordFormatError, match=fragment):
        split_records(payload, "TFRecord")


def test_tfrecord_data_crc_checked_only_on_request() -> None:
    bad = encode_tfrecord(b"good") + _corrupt_data_crc(encode_tfrecord(b"bad"))
    assert len(split_tfrecord(bad)) == 2
    with pytest.raises(RecordFormatError, match="data checksum mismatch in the record at byte 20"):
        split_tfrecord(bad, verify_data=True)


@given(st.lists(st.binary(max_size=40), max_size=8))
def test_framed_round_trips(datas: list[bytes]) -> None:
    rio = [encode_recordio(d) for d in datas]
    assert split_recordio(b"".join(rio)) == rio
    assert [recordio_payload(r) for r in rio] == datas
    tfr = [encode_tfrecord(d) for d in datas]
    assert split_tfrecord(b"".join(tfr), verify_data=True) == tfr


@given(
    st.lists(
        st.binary(min_size=1, max_size=20).filter(lambda b: b"\n" not in b and not b.endswith(b"\r")),
        max_size=10,
    )
)
def test_line_round_trip(lines: list[bytes]) -> None:
    assert split_lines(b"\n".join(lines) + b"\n") == lines
