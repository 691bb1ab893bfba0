"""The frame format, in process: encoding, incremental parsing, limits, the asyncio helpers."""

from __future__ import annotations

import asyncio
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelyard.toolkit import framing

HEADER = framing.request_header("invoke", "text/csv", "application/json", "a=1", "id-1", None)


def test_encode_layout_is_two_big_endian_lengths_then_json_then_body():
    frame = framing.encode_frame({"op": "ping"}, b"xyz")
    header_len, body_len = struct.unpack(">II", frame[:8])
    assert (header_len, body_len) == (len(b'{"op":"ping"}'), 3)
    assert frame[8:8 + header_len] == b'{"op":"ping"}'
    assert frame[8 + header_len:] == b"xyz"


def test_large_bodies_are_written_as_separate_parts():
    body = b"x" * (1 << 20)
    parts = framing.frame_parts(HEADER, body)
    assert len(parts) == 2 and parts[1] is body
    assert len(framing.frame_parts(HEADER, b"small")) == 1


@settings(max_examples=60, deadline=None)
@given(bodies=st.lists(st.binary(max_size=300), min_size=1, max_size=5),
       attributes=st.text(max_size=40), cut=st.integers(min_value=1, max_value=50))
def test_parser_recovers_frames_from_any_chunking(bodies, attributes, cut):
    header = dict(HEADER, custom_attributes=attributes)
    stream = b"".join(framing.encode_frame(header, body) for body in bodies)
    parser = framing.FrameParser()
    frames = []
    for start in range(0, len(stream), cut):
        frames += parser.feed(stream[start:start + cut])
    assert frames == [(header, body) for body in bodies]
    assert parser.buffered == 0


def test_parser_returns_several_frames_from_one_read():
    stream = framing.encode_frame(HEADER, b"1") + framing.encode_frame(HEADER, b"22")
    assert framing.FrameParser().feed(stream) == [(HEADER, b"1"), (HEADER, b"22")]


@pytest.mark.parametrize(("prefix", "message"), [
    (struct.pack(">II", framing.MAX_HEADER_BYTES + 1, 0), "header"),
    (struct.pack(">II", 2, framing.MAX_BODY_BYTES + 1), "body"),
    (struct.pack(">II", 0xFFFFFFFF, 0xFFFFFFFF), "exceeds"),
])
def test_absurd_lengths_are_refused_before_buffering(prefix, message):
    with pytest.raises(framing.FrameError, match=message):
        framing.FrameParser().feed(prefix)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b'"op"', b""])
def test_bad_headers_are_refused(raw):
    with pytest.raises(framing.FrameError):
        framing.FrameParser().feed(struct.pack(">II", len(raw), 0) + raw)


def _stream(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def test_read_frame_handles_eof_and_truncation():
    async def scenario():
        frame = framing.encode_frame(HEADER, b"body")
        assert await framing.read_frame(_stream(frame)) == (HEADER, b"body")
        assert await framing.read_frame(_stream(b"")) is None
        with pytest.raises(framing.FrameError):
            await framing.read_frame(_stream(frame[:5]))
        with pytest.raises(framing.FrameError):
            await framing.read_frame(_stream(frame[:-1]))
        with pytest.raises(framing.FrameError):
            await framing.read_frame(_stream(struct.pack(">II", 1 << 30, 1 << 30)))

    asyncio.run(scenario())


def test_call_round_trips_against_a_stream_server(tmp_path):
    async def scenario():
        async def echo(reader, writer):
            while (frame := await framing.read_frame(reader)) is not None:
                header, body = frame
                answer = framing.response_header(200, header["content_type"])
                await framing.write_frame(writer, answer, body[::-1])
            writer.close()

        path = f"/tmp/tkf-{id(tmp_path)}.sock"
        server = await asyncio.start_unix_server(echo, path)
        try:
            reader, writer = await asyncio.open_unix_connection(path)
            for body in (b"abc", b"", b"z" * 300_000):
                header, got = await framing.call(reader, writer, HEADER, body)
                assert header == {"status": 200, "content_type": "text/csv", "custom_attributes": None}
                assert got == body[::-1]
            writer.close()
        finally:
            server.close()
            await server.wait_closed()
            os.unlink(path)

    asyncio.run(scenario())


def test_a_header_decoded_again_is_a_fresh_dict_equal_to_the_first() -> None:
    raw = framing.encode_header({"status": 200, "content_type": "text/csv", "custom_attributes": None})
    first = framing.decode_header(raw)
    first["status"] = 500
    assert framing.decode_header(raw) == {"status": 200, "content_type": "text/csv", "custom_attributes": None}
    nested = framing.encode_header({"status": 200, "results": [[200, 1, None, None]]})
    framing.decode_header(nested)["results"].append("tampered")
    assert framing.decode_header(nested)["results"] == [[200, 1, None, None]]


def test_headers_that_are_not_objects_are_refused_whether_or_not_seen_before() -> None:
    for _ in range(2):
        with pytest.raises(framing.FrameError):
            framing.decode_header(b"[1, 2]")
