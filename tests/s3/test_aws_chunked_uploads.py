"""aws-chunked uploads, as botocore sends them over https (here forced over http): the body is decoded
and its signatures and trailing checksum verified on the way in; a tampered body stores nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.error
import urllib.request
import zlib
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.server import ServerProcess


def chunked_request(server: ServerProcess, bucket: str, key: str, data: bytes, *, tamper: bool = False,
                    chunk: int = 65536) -> urllib.request.Request:
    """A PutObject with a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body signed chunk by chunk."""
    creds = Credentials(server.credentials["aws_access_key_id"], server.credentials["aws_secret_access_key"])
    url = f"{server.url}/{bucket}/{key}"
    headers = {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "content-encoding": "aws-chunked",
               "x-amz-decoded-content-length": str(len(data))}
    request = AWSRequest("PUT", url, headers=headers)
    signer = SigV4Auth(creds, "s3", "us-east-1")
    signer.add_auth(request)
    seed = request.headers["Authorization"].rpartition("Signature=")[2]
    stamp = request.headers["X-Amz-Date"]
    scope = f"{stamp[:8]}/us-east-1/s3/aws4_request"

    def sign(key_: bytes, msg: str) -> bytes:
        return hmac.new(key_, msg.encode(), hashlib.sha256).digest()

    k = sign(sign(sign(sign(("AWS4" + creds.secret_key).encode(), stamp[:8]), "us-east-1"), "s3"), "aws4_request")
    body, previous = b"", seed
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    empty = hashlib.sha256(b"").hexdigest()
    for piece in pieces:
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", stamp, scope, previous, empty,
                             hashlib.sha256(piece).hexdigest()])
        previous = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        sent = piece.replace(b"a", b"b", 1) if tamper and piece else piece
        body += f"{len(piece):x};chunk-signature={previous}\r\n".encode() + sent + b"\r\n"
    sent_headers = dict(request.headers.items())
    return urllib.request.Request(url, data=body, headers=sent_headers, method="PUT")


def status_of(request: urllib.request.Request) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def unsigned_trailer_request(server: ServerProcess, bucket: str, key: str, data: bytes,
                             crc32: int) -> urllib.request.Request:
    """A PutObject with a STREAMING-UNSIGNED-PAYLOAD-TRAILER body and an x-amz-checksum-crc32 trailer."""
    creds = Credentials(server.credentials["aws_access_key_id"], server.credentials["aws_secret_access_key"])
    url = f"{server.url}/{bucket}/{key}"
    request = AWSRequest("PUT", url, headers={
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)), "x-amz-trailer": "x-amz-checksum-crc32"})
    SigV4Auth(creds, "s3", "us-east-1").add_auth(request)
    checksum = base64.b64encode(crc32.to_bytes(4, "big")).decode()
    body = (f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n"
            + f"x-amz-checksum-crc32:{checksum}\r\n\r\n".encode())
    return urllib.request.Request(url, data=body, headers=dict(request.headers.items()), method="PUT")


def test_a_signed_chunked_upload_is_stored_decoded(any_server: ServerProcess, s3: Any, bucket: str) -> None:
    data = b"abc" * 50_000
    status, answer = status_of(chunked_request(any_server, bucket, "chunked.bin", data))
    assert status == 200, answer
    assert s3.get_object(Bucket=bucket, Key="chunked.bin")["Body"].read() == data


def test_a_tampered_chunk_stores_nothing(any_server: ServerProcess, s3: Any, bucket: str) -> None:
    status, answer = status_of(chunked_request(any_server, bucket, "tampered.bin", b"a" * 100_000, tamper=True))
    assert status == 403 and b"SignatureDoesNotMatch" in answer, (status, answer)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_an_unsigned_trailer_checksum_is_verified(any_server: ServerProcess, s3: Any, bucket: str) -> None:
    data = b"model bytes " * 1000
    status, answer = status_of(unsigned_trailer_request(any_server, bucket, "good.bin", data, zlib.crc32(data)))
    assert status == 200, answer
    assert s3.get_object(Bucket=bucket, Key="good.bin")["Body"].read() == data
    status, answer = status_of(unsigned_trailer_request(any_server, bucket, "bad.bin", data, zlib.crc32(data) ^ 1))
    assert status == 400 and b"BadDigest" in answer, (status, answer)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["good.bin"]
