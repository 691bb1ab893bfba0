"""Buckets belong to the account that created them: another account's requests are AccessDenied,
and the name stays taken."""

from __future__ import annotations

import uuid
from typing import Any

import boto3

from tests.auth.conftest import Keys
from tests.s3.conftest import S3_CONFIG, error_of
from tests.support.server import ServerProcess


def _client(server: ServerProcess, key: dict[str, Any]) -> Any:
    return boto3.client("s3", endpoint_url=server.url, region_name="us-east-1", config=S3_CONFIG,
                        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])


def test_another_account_cannot_use_a_bucket(auth_server: ServerProcess, make_key: Keys) -> None:
    unique = uuid.uuid4().hex[:8]
    alice = _client(auth_server, make_key(f"s3-alice-{unique}", "--account", "111111111111"))
    bob = _client(auth_server, make_key(f"s3-bob-{unique}", "--account", "222222222222"))
    bucket = f"alice-{unique}"
    alice.create_bucket(Bucket=bucket)
    alice.put_object(Bucket=bucket, Key="secret.txt", Body=b"alice's")
    for call in (lambda: bob.get_object(Bucket=bucket, Key="secret.txt"),
                 lambda: bob.list_objects_v2(Bucket=bucket),
                 lambda: bob.put_object(Bucket=bucket, Key="secret.txt", Body=b"bob's"),
                 lambda: bob.delete_object(Bucket=bucket, Key="secret.txt"),
                 lambda: bob.delete_bucket(Bucket=bucket),
                 lambda: bob.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/secret.txt")):
        error = error_of(call)
        assert (error["Code"], error["Status"]) == ("AccessDenied", 403), error
    assert error_of(lambda: bob.create_bucket(Bucket=bucket))["Code"] == "BucketAlreadyExists"
    assert bucket not in [b["Name"] for b in bob.list_buckets()["Buckets"]]
    assert alice.get_object(Bucket=bucket, Key="secret.txt")["Body"].read() == b"alice's"


def test_a_key_limited_to_other_actions_cannot_call_s3(auth_server: ServerProcess, make_key: Keys) -> None:
    reader = _client(auth_server, make_key(f"s3-reader-{uuid.uuid4().hex[:8]}", "--allow", "s3:Get*",
                                           "--allow", "s3:List*"))
    error = error_of(lambda: reader.create_bucket(Bucket=f"denied-{uuid.uuid4().hex[:8]}"))
    assert (error["Code"], error["Status"]) == ("AccessDenied", 403)
    assert "s3:CreateBucket" in error["Message"]
