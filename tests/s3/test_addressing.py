"""Path-style (``host/bucket/key``, what boto3 uses for a custom endpoint) and virtual-host style
(``bucket.localhost:port/key``, ``bucket.s3.localhost``) reach the same objects; other services' routes
are unchanged beside S3."""

from __future__ import annotations

import http.client
from typing import Any

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from tests.s3.conftest import s3_client
from tests.support.server import ServerProcess


def _virtual_request(server: ServerProcess, method: str, host: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send a request signed for ``host`` to the server's loopback port (no DNS for *.localhost needed)."""
    port = int(server.url.rsplit(":", 1)[1])
    key = server.admin_key
    request = AWSRequest(method=method, url=f"http://{host}:{port}{path}", data=body)
    S3SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "s3", "us-east-1").add_auth(request)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, body=body, headers={**dict(request.headers.items()), "Host": f"{host}:{port}"})
    response = connection.getresponse()
    return response.status, response.read()


@pytest.mark.parametrize("domain", ["localhost", "s3.localhost"])
def test_virtual_host_style(any_server: ServerProcess, s3: Any, bucket: str, domain: str) -> None:
    status, _ = _virtual_request(any_server, "PUT", f"{bucket}.{domain}", "/virtual/key.txt", b"by host")
    assert status == 200
    assert s3.get_object(Bucket=bucket, Key="virtual/key.txt")["Body"].read() == b"by host"
    status, body = _virtual_request(any_server, "GET", f"{bucket}.{domain}", "/?list-type=2&prefix=virtual%2F")
    assert status == 200 and b"<Key>virtual/key.txt</Key>" in body, body
    status, body = _virtual_request(any_server, "GET", f"{bucket}.{domain}", "/virtual/key.txt")
    assert (status, body) == (200, b"by host")


def test_boto3_virtual_addressing_with_a_resolvable_host(any_server: ServerProcess, bucket: str) -> None:
    """boto3 with ``addressing_style: virtual`` sends ``<bucket>.localhost``; route it through the loopback."""
    port = any_server.url.rsplit(":", 1)[1]
    client = boto3.client("s3", endpoint_url=f"http://localhost:{port}", region_name="us-east-1",
                          config=Config(s3={"addressing_style": "virtual"}), **any_server.credentials)
    urls: list[str] = []

    def to_loopback(request: Any, **_: Any) -> None:
        urls.append(request.url)
        request.headers["Host"] = f"{bucket}.localhost:{port}"
        request.url = request.url.replace(f"{bucket}.localhost", "127.0.0.1")

    client.meta.events.register("before-send.s3", to_loopback)
    client.put_object(Bucket=bucket, Key="vh", Body=b"virtual")
    assert client.get_object(Bucket=bucket, Key="vh")["Body"].read() == b"virtual"
    assert urls[0].startswith(f"http://{bucket}.localhost:{port}/vh")


def test_other_services_still_route(any_server: ServerProcess) -> None:
    s3_client(any_server).list_buckets()
    sagemaker = boto3.client("sagemaker", endpoint_url=any_server.url, region_name="us-east-1",
                             **any_server.credentials)
    assert "Models" in sagemaker.list_models()
    logs = boto3.client("logs", endpoint_url=any_server.url, region_name="us-east-1", **any_server.credentials)
    assert "logGroups" in logs.describe_log_groups()
