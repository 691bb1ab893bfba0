"""Objects: put, get (ranges, conditions), head, delete, batch delete, copy, metadata, and the digest checks."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.s3.conftest import error_of
from tests.support.server import ServerProcess


def test_put_get_head_with_metadata(s3: Any, bucket: str) -> None:
    body = os.urandom(100_000)
    put = s3.put_object(Bucket=bucket, Key="dir/data.bin", Body=body, ContentType="application/x-test",
                        Metadata={"Color": "red", "size": "large"}, CacheControl="max-age=60",
                        ContentDisposition="attachment")
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/data.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"color": "red", "size": "large"}
    assert (got["CacheControl"], got["ContentDisposition"]) == ("max-age=60", "attachment")
    assert got["ContentLength"] == len(body) and got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="dir/data.bin")
    assert head["ContentLength"] == len(body) and head["Metadata"] == got["Metadata"]
    assert head["LastModified"] == got["LastModified"]


def test_overwrite_and_delete(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
    error = error_of(lambda: s3.get_object(Bucket=bucket, Key="k"))
    assert (error["Code"], error["Status"], error["Key"]) == ("NoSuchKey", 404, "k")
    assert error_of(lambda: s3.head_object(Bucket=bucket, Key="k"))["Code"] == "404"


def test_empty_object_and_odd_keys(s3: Any, bucket: str) -> None:
    keys = ["empty", "spaces and +plus", "unicodé/ключ/鍵", "a//double", "percent%2Fslash", "dots/../x", "q?x=1&y"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode() if key != "empty" else b"")
    for key in keys:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == (key.encode() if key != "empty" else b"")
    listed = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(keys, key=lambda k: k.encode())


@pytest.mark.parametrize(("header", "expected", "content_range"), [
    ("bytes=0-9", b"0123456789", "bytes 0-9/100"),
    ("bytes=95-", bytes(range(48, 53)), "bytes 95-99/100"),
    ("bytes=-3", None, "bytes 97-99/100"),
    ("bytes=90-1000", None, "bytes 90-99/100"),
])
def test_ranges(s3: Any, bucket: str, header: str, expected: bytes | None, content_range: str) -> None:
    body = (b"0123456789" * 10)[:95] + bytes(range(48, 53))
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    got = s3.get_object(Bucket=bucket, Key="r", Range=header)
    start, end = (int(x) for x in content_range.split(" ")[1].split("/")[0].split("-"))
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == content_range
    assert got["Body"].read() == (expected if expected is not None else body[start:end + 1])


def test_range_outside_the_object(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="r", Body=b"abc")
    error = error_of(lambda: s3.get_object(Bucket=bucket, Key="r", Range="bytes=3-5"))
    assert (error["Code"], error["Status"]) == ("InvalidRange", 416)
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=a-b")["Body"].read() == b"abc"


def test_conditional_get(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"abc")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"abc"
    assert error_of(lambda: s3.get_object(Bucket=bucket, Key="c", IfMatch='"nope"'))["Status"] == 412
    assert error_of(lambda: s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag))["Status"] == 304


def test_key_too_long(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k" * 1024, Body=b"ok")
    error = error_of(lambda: s3.put_object(Bucket=bucket, Key="é" * 513, Body=b"x"))
    assert (error["Code"], error["Status"]) == ("KeyTooLongError", 400)


def test_content_md5(s3: Any, bucket: str) -> None:
    good = base64.b64encode(hashlib.md5(b"payload").digest()).decode()
    s3.put_object(Bucket=bucket, Key="m", Body=b"payload", ContentMD5=good)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    error = error_of(lambda: s3.put_object(Bucket=bucket, Key="m2", Body=b"payload", ContentMD5=wrong))
    assert (error["Code"], error["Status"]) == ("BadDigest", 400)
    error = error_of(lambda: s3.put_object(Bucket=bucket, Key="m2", Body=b"payload", ContentMD5="not-md5"))
    assert (error["Code"], error["Status"]) == ("InvalidDigest", 400)
    assert error_of(lambda: s3.head_object(Bucket=bucket, Key="m2"))["Code"] == "404"


def raw_put(server: ServerProcess, path: str, body: bytes, headers: dict[str, str],
            signed_body: bytes | None = None) -> tuple[int, bytes]:
    """PUT ``body`` signed as S3 signs (``signed_body``: the body the signed payload hash is of)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{server.url}{path}"
    key = server.admin_key
    request = AWSRequest(method="PUT", url=url, data=body if signed_body is None else signed_body, headers=headers)
    S3SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "s3", "us-east-1").add_auth(request)
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("PUT", parts.path, body=body, headers=dict(request.headers.items()))
    response = connection.getresponse()
    return response.status, response.read()


def test_checksum_header_and_signed_hash_are_verified(any_server: ServerProcess, s3: Any, bucket: str) -> None:
    crc_of_other = base64.b64encode((0x12345678).to_bytes(4, "big")).decode()
    status, body = raw_put(any_server, f"/{bucket}/crc", b"data", {"x-amz-checksum-crc32": crc_of_other})
    assert status == 400 and b"<Code>BadDigest</Code>" in body
    status, body = raw_put(any_server, f"/{bucket}/sha", b"tampered", {}, signed_body=b"original")
    assert status == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in body
    status, body = raw_put(any_server, f"/{bucket}/ok", b"data", {})
    assert status == 200, body
    for key in ("crc", "sha"):
        assert error_of(lambda key=key: s3.head_object(Bucket=bucket, Key=key))["Code"] == "404"
    put = s3.put_object(Bucket=bucket, Key="sha256", Body=b"abc", ChecksumAlgorithm="SHA256")
    assert put["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(b"abc").digest()).decode()
    head = s3.head_object(Bucket=bucket, Key="sha256", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == put["ChecksumSHA256"]


def test_aws_chunked_needs_a_streaming_payload_hash(any_server: ServerProcess, bucket: str) -> None:
    status, body = raw_put(any_server, f"/{bucket}/chunked", b"0\r\n\r\n",
                            {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "0"})
    assert status == 400 and b"InvalidRequest" in body and b"not an aws-chunked payload" in body, body


def test_delete_objects(s3: Any, bucket: str) -> None:
    for index in range(5):
        s3.put_object(Bucket=bucket, Key=f"d/{index}", Body=b"x")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": f"d/{i}"} for i in (0, 1, 2, 9)]})
    assert sorted(item["Key"] for item in result["Deleted"]) == ["d/0", "d/1", "d/2", "d/9"]
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["d/3", "d/4"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d/3"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["d/4"]


def test_copy_object(s3: Any, bucket: str, new_bucket: Any) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"source bytes", ContentType="text/plain", Metadata={"a": "1"})
    other = new_bucket()
    copied = s3.copy_object(Bucket=other, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"source bytes").hexdigest()}"'
    got = s3.get_object(Bucket=other, Key="dst")
    assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (b"source bytes", "text/plain", {"a": "1"})
    s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src", MetadataDirective="REPLACE",
                   Metadata={"b": "2"}, ContentType="application/json")
    head = s3.head_object(Bucket=bucket, Key="src")
    assert (head["Metadata"], head["ContentType"]) == ({"b": "2"}, "application/json")
    error = error_of(lambda: s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src"))
    assert (error["Code"], error["Status"]) == ("InvalidRequest", 400)
    error = error_of(lambda: s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/missing"))
    assert (error["Code"], error["Status"]) == ("NoSuchKey", 404)


def test_upload_and_download_file(s3: Any, bucket: str, tmp_path: Any) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    s3.upload_file(str(source), bucket, "files/in.bin")
    target = tmp_path / "out.bin"
    s3.download_file(bucket, "files/in.bin", str(target))
    assert target.read_bytes() == source.read_bytes()


def test_presigned_get_and_put(any_server: ServerProcess, s3: Any, bucket: str) -> None:
    import urllib.error
    import urllib.request

    from tests.s3.conftest import s3_client

    legacy = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=60)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(legacy)
    assert refused.value.code == 403 and b"<Code>AccessDenied</Code>" in refused.value.read()
    s3 = s3_client(any_server, signature_version="s3v4")
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=60)
    with urllib.request.urlopen(urllib.request.Request(put_url, data=b"sent by url", method="PUT")) as answer:
        assert answer.status == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=60)
    with urllib.request.urlopen(get_url) as answer:
        assert answer.read() == b"sent by url"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(get_url.replace("Signature=", "Signature=0"))
    assert caught.value.code == 403 and b"SignatureDoesNotMatch" in caught.value.read()


CHECK_VECTORS = {"crc32c": (0xE3069283).to_bytes(4, "big"), "crc64nvme": (0xAE8B14860A799888).to_bytes(8, "big")}
"""The published check values of CRC-32C (iSCSI) and CRC-64/NVME over b"123456789"."""


@pytest.mark.parametrize("algorithm", sorted(CHECK_VECTORS))
def test_crc32c_and_crc64nvme_headers_are_verified(any_server: ServerProcess, s3: Any, bucket: str,
                                                   algorithm: str) -> None:
    right = base64.b64encode(CHECK_VECTORS[algorithm]).decode()
    wrong = base64.b64encode(bytes(len(CHECK_VECTORS[algorithm]))).decode()
    status, body = raw_put(any_server, f"/{bucket}/bad", b"123456789", {f"x-amz-checksum-{algorithm}": wrong})
    assert status == 400 and b"<Code>BadDigest</Code>" in body, body
    status, body = raw_put(any_server, f"/{bucket}/good", b"123456789", {f"x-amz-checksum-{algorithm}": right})
    assert status == 200, body
    head = s3.head_object(Bucket=bucket, Key="good", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm.upper()}"] == right
    assert error_of(lambda: s3.head_object(Bucket=bucket, Key="bad"))["Code"] == "404"
