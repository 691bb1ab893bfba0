"""Multipart uploads: boto3's transfer manager round trip, and S3's errors for bad completions."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig

from tests.s3.conftest import error_of

MIB = 1024 * 1024


def test_50_mb_round_trip_through_the_transfer_manager(s3: Any, bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    with open(source, "wb") as out:
        for _ in range(50):
            out.write(os.urandom(MIB))
    config = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=4)
    s3.upload_file(str(source), bucket, "big/file.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big/file.bin")
    assert head["ContentLength"] == 50 * MIB
    digests = b""
    with open(source, "rb") as stream:
        while chunk := stream.read(8 * MIB):
            digests += hashlib.md5(chunk).digest()
    assert head["ETag"] == f'"{hashlib.md5(digests).hexdigest()}-7"'
    assert head["PartsCount"] == 7
    target = tmp_path / "back.bin"
    s3.download_file(bucket, "big/file.bin", str(target), Config=config)
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(source.read_bytes()).digest()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def _upload(s3: Any, bucket: str, key: str, sizes: list[int]) -> tuple[str, list[dict[str, Any]]]:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="text/x-parts")["UploadId"]
    parts = []
    for number, size in enumerate(sizes, 1):
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                              Body=bytes([number]) * size)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    return upload_id, parts


def test_list_parts_uploads_and_abort(s3: Any, bucket: str) -> None:
    upload_id, parts = _upload(s3, bucket, "listed", [10, 20, 30])
    listed = s3.list_parts(Bucket=bucket, Key="listed", UploadId=upload_id)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed["Parts"]] == [
        (1, 10, parts[0]["ETag"]), (2, 20, parts[1]["ETag"]), (3, 30, parts[2]["ETag"])]
    page = s3.list_parts(Bucket=bucket, Key="listed", UploadId=upload_id, MaxParts=2)
    assert page["IsTruncated"] and page["NextPartNumberMarker"] == 2
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("listed", upload_id)]
    assert error_of(lambda: s3.delete_bucket(Bucket=bucket))["Code"] == "BucketNotEmpty"
    s3.abort_multipart_upload(Bucket=bucket, Key="listed", UploadId=upload_id)
    error = error_of(lambda: s3.list_parts(Bucket=bucket, Key="listed", UploadId=upload_id))
    assert (error["Code"], error["Status"]) == ("NoSuchUpload", 404)
    error = error_of(lambda: s3.upload_part(Bucket=bucket, Key="listed", UploadId=upload_id, PartNumber=1, Body=b"x"))
    assert error["Code"] == "NoSuchUpload"
    s3.delete_bucket(Bucket=bucket)


def test_small_parts_unknown_parts_and_order(s3: Any, bucket: str) -> None:
    upload_id, parts = _upload(s3, bucket, "bad", [100, 200])
    error = error_of(lambda: s3.complete_multipart_upload(Bucket=bucket, Key="bad", UploadId=upload_id,
                                                          MultipartUpload={"Parts": parts}))
    assert (error["Code"], error["Status"]) == ("EntityTooSmall", 400)
    unknown = [parts[0], {"PartNumber": 7, "ETag": parts[1]["ETag"]}]
    assert error_of(lambda: s3.complete_multipart_upload(Bucket=bucket, Key="bad", UploadId=upload_id,
                                                         MultipartUpload={"Parts": unknown}))["Code"] == "InvalidPart"
    wrong_etag = [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]
    error = error_of(lambda: s3.complete_multipart_upload(Bucket=bucket, Key="bad", UploadId=upload_id,
                                                          MultipartUpload={"Parts": wrong_etag}))
    assert error["Code"] == "InvalidPart"
    reversed_parts = list(reversed(parts))
    error = error_of(lambda: s3.complete_multipart_upload(Bucket=bucket, Key="bad", UploadId=upload_id,
                                                          MultipartUpload={"Parts": reversed_parts}))
    assert error["Code"] == "InvalidPartOrder"
    assert error_of(lambda: s3.head_object(Bucket=bucket, Key="bad"))["Code"] == "404"
    done = s3.complete_multipart_upload(Bucket=bucket, Key="bad", UploadId=upload_id,
                                        MultipartUpload={"Parts": parts[:1]})
    assert done["ETag"].endswith('-1"')
    got = s3.get_object(Bucket=bucket, Key="bad")
    assert (got["Body"].read(), got["ContentType"]) == (bytes([1]) * 100, "text/x-parts")
    error = error_of(lambda: s3.complete_multipart_upload(Bucket=bucket, Key="bad", UploadId=upload_id,
                                                          MultipartUpload={"Parts": parts[:1]}))
    assert (error["Code"], error["Status"]) == ("NoSuchUpload", 404)


def test_part_number_out_of_range(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    error = error_of(lambda: s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=10001, Body=b"x"))
    assert (error["Code"], error["Status"]) == ("InvalidArgument", 400)
