"""Buckets: create, head, list, location, delete-if-empty, and S3's errors for each."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.s3.conftest import error_of, s3_client
from tests.support.server import ServerProcess


def test_bucket_lifecycle(s3: Any) -> None:
    name = f"life-{uuid.uuid4().hex[:12]}"
    assert s3.create_bucket(Bucket=name)["Location"] == f"/{name}"
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    s3.delete_bucket(Bucket=name)
    assert error_of(lambda: s3.head_bucket(Bucket=name))["Code"] == "404"
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_bucket_in_another_region_names_it(any_server: ServerProcess) -> None:
    s3 = s3_client(any_server, region="eu-west-1")
    name = f"eu-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    missing = error_of(lambda: s3.create_bucket(Bucket=f"x-{name}"))
    assert missing["Code"] == "IllegalLocationConstraintException"
    wrong = error_of(lambda: s3.create_bucket(Bucket=f"y-{name}",
                                              CreateBucketConfiguration={"LocationConstraint": "us-west-2"}))
    assert wrong["Code"] == "IllegalLocationConstraintException" and wrong["Status"] == 400


@pytest.mark.parametrize("name", ["ab", "UPPER-case", "a" * 64, "bad_underscore", "192.168.1.1", "two..dots",
                                  "-leading", "trailing-", "xn--reserved"])
def test_bad_bucket_names_are_refused(s3: Any, name: str) -> None:
    error = error_of(lambda: s3.create_bucket(Bucket=name))
    assert (error["Code"], error["Status"]) == ("InvalidBucketName", 400), error


def test_bucket_already_owned_and_not_empty(s3: Any, bucket: str) -> None:
    assert error_of(lambda: s3.create_bucket(Bucket=bucket))["Code"] == "BucketAlreadyOwnedByYou"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    error = error_of(lambda: s3.delete_bucket(Bucket=bucket))
    assert (error["Code"], error["Status"]) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)


def test_missing_bucket(s3: Any) -> None:
    name = f"none-{uuid.uuid4().hex[:12]}"
    for call in (lambda: s3.list_objects_v2(Bucket=name), lambda: s3.put_object(Bucket=name, Key="k", Body=b"x"),
                 lambda: s3.get_object(Bucket=name, Key="k"), lambda: s3.delete_bucket(Bucket=name)):
        error = error_of(call)
        assert (error["Code"], error["Status"]) == ("NoSuchBucket", 404)


def test_unimplemented_operation_names_itself(s3: Any, bucket: str) -> None:
    error = error_of(lambda: s3.get_bucket_tagging(Bucket=bucket))
    assert (error["Code"], error["Status"]) == ("NotImplemented", 501)
    assert "GetBucketTagging" in error["Message"]


def test_unsupported_member_is_refused(s3: Any, bucket: str) -> None:
    error = error_of(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=b"))
    assert (error["Code"], error["Status"]) == ("NotImplemented", 501)
    assert "Tagging" in error["Message"]
    assert error_of(lambda: s3.head_object(Bucket=bucket, Key="k"))["Code"] == "404"
