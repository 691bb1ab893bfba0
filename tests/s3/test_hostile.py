"""Hostile S3 requests, on both stores: each gets a 4xx in S3's XML error shape, never a 5xx, and changes nothing."""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.server import ServerProcess


def send(server: ServerProcess, method: str, path: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """A request signed as S3 signs (``path`` already percent-encoded as it should travel)."""
    key = server.admin_key
    request = AWSRequest(method=method, url=f"{server.url}{path}", data=body, headers=headers or {})
    S3SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "s3", "us-east-1").add_auth(request)
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request(method, path, body=body, headers=dict(request.headers.items()))
    response = connection.getresponse()
    return response.status, response.read()


DEEP = b"<Delete>" + b"<Object>" * 5000 + b"</Object>" * 5000 + b"</Delete>"
ENTITY = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
          b"<Delete><Object><Key>&b;</Key></Object></Delete>")
CASES = [
    ("POST", "/{b}?delete", b"not xml at all", "MalformedXML"),
    ("POST", "/{b}?delete", DEEP, "InvalidArgument"),
    ("POST", "/{b}?delete", ENTITY, "MalformedXML"),
    ("POST", "/{b}?delete", b"<Delete></Delete>", "InvalidArgument"),
    ("POST", "/{b}?delete", b"<Delete><Object><Key>k</Key></Object><Quiet>maybe</Quiet></Delete>", "InvalidArgument"),
    ("GET", "/{b}?list-type=2&max-keys=abc", b"", "InvalidArgument"),
    ("GET", "/{b}?list-type=2&max-keys=99999999999999999999999", b"", "InvalidArgument"),
    ("GET", "/{b}?list-type=2&max-keys=-1", b"", "InvalidArgument"),
    ("GET", "/{b}?list-type=2&continuation-token=%FF%FE", b"", "InvalidArgument"),
    ("GET", "/{b}?list-type=2&encoding-type=base64", b"", "InvalidArgument"),
    ("PUT", "/{b}/k?partNumber=abc&uploadId=x", b"x", "InvalidArgument"),
    ("PUT", "/{b}/k?partNumber=1&uploadId=nope", b"x", "NoSuchUpload"),
    ("POST", "/{b}/k?uploadId=nope", b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part>"
                                     b"</CompleteMultipartUpload>", "InvalidArgument"),
    ("PUT", "/{b}/nul%00key", b"x", "InvalidArgument"),
    ("PUT", "/{b}/bad%FFutf8", b"x", "InvalidArgument"),
    ("GET", "/{b}/k", b"", "NoSuchKey"),
    ("PUT", "/{b}/copy", b"", "InvalidArgument"),
    ("DELETE", "/{b}?tagging", b"", "NotImplemented"),
    ("PUT", "/Not_A_Bucket", b"", "InvalidBucketName"),
]


@pytest.mark.parametrize(("method", "path", "body", "code"), CASES)
def test_hostile_requests_get_s3_errors(any_server: ServerProcess, s3: Any, bucket: str, method: str, path: str,
                                        body: bytes, code: str) -> None:
    headers = {"x-amz-copy-source": "no-slash"} if path.endswith("/copy") else {}
    status, answer = send(any_server, method, path.format(b=bucket), body, headers)
    assert 400 <= status < 500 or status == 501, (status, answer)
    assert f"<Code>{code}</Code>".encode() in answer, answer
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
