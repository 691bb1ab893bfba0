"""GetObject bodies leave through os.sendfile (``edge.zero_copy``): ranges, conditions, a client that
reads slowly (the socket fills and the send waits) and a client that leaves mid-body are all served as
before, byte for byte, and the server goes on answering."""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.s3.conftest import error_of, s3_client
from tests.support.server import ServerProcess

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def big(sqlite_server: ServerProcess) -> tuple[Any, str, bytes]:
    """A 24 MiB object of random bytes (larger than any socket buffer), in a bucket of its own."""
    s3 = s3_client(sqlite_server)
    bucket = f"zc-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(24 * MIB)
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    return s3, bucket, body


def _raw_get(url: str, reader: Any) -> tuple[bytes, bytes]:
    """Send GET ``url`` on a plain socket; ``reader(sock)`` reads what it wants; (head, body read)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
    try:
        data = reader(sock)
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def _presigned(server: ServerProcess, bucket: str) -> str:
    signer = s3_client(server, signature_version="s3v4")
    return str(signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "big"}, ExpiresIn=300))


def test_whole_object_and_ranges(big: tuple[Any, str, bytes]) -> None:
    s3, bucket, body = big
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["ContentLength"] == len(body)
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(body).digest()
    for header, start, end in (("bytes=1000-9000000", 1000, 9000000), ("bytes=-5", len(body) - 5, len(body) - 1),
                               (f"bytes={len(body) - 10}-", len(body) - 10, len(body) - 1)):
        part = s3.get_object(Bucket=bucket, Key="big", Range=header)
        assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert part["ContentRange"] == f"bytes {start}-{end}/{len(body)}"
        assert part["Body"].read() == body[start:end + 1]


def test_conditions_still_answer_before_the_body(big: tuple[Any, str, bytes]) -> None:
    s3, bucket, _ = big
    etag = s3.head_object(Bucket=bucket, Key="big")["ETag"]
    assert error_of(lambda: s3.get_object(Bucket=bucket, Key="big", IfNoneMatch=etag))["Status"] == 304
    assert error_of(lambda: s3.get_object(Bucket=bucket, Key="big", IfMatch='"other"'))["Status"] == 412
    assert s3.get_object(Bucket=bucket, Key="big", IfMatch=etag, Range="bytes=0-3")["Body"].read() == big[2][:4]


def test_slow_reader_gets_every_byte(big: tuple[Any, str, bytes], sqlite_server: ServerProcess) -> None:
    _, bucket, body = big
    url = _presigned(sqlite_server, bucket)

    def slowly(sock: socket.socket) -> bytes:
        received = bytearray()
        started = time.monotonic()
        while len(received) < len(body) + 100 or b"\r\n\r\n" not in received:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            received += chunk
            if time.monotonic() - started < 2:
                time.sleep(0.05)
            head_end = received.find(b"\r\n\r\n")
            if head_end >= 0 and len(received) - head_end - 4 >= len(body):
                break
        return bytes(received)

    head, got = _raw_get(url, slowly)
    assert head.startswith(b"HTTP/1.1 200")
    assert got == body


def test_client_leaving_mid_body_does_not_hurt_the_server(big: tuple[Any, str, bytes],
                                                         sqlite_server: ServerProcess) -> None:
    s3, bucket, body = big
    url = _presigned(sqlite_server, bucket)
    for _ in range(3):
        head, got = _raw_get(url, lambda sock: sock.recv(256 * 1024))
        assert head.startswith(b"HTTP/1.1 200")
        assert body.startswith(got)
    assert s3.get_object(Bucket=bucket, Key="big", Range="bytes=5-9")["Body"].read() == body[5:10]
    time.sleep(0.5)
    assert "Exception in ASGI application" not in sqlite_server.log()
    assert "returned without completing response" not in sqlite_server.log()
