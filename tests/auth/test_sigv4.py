"""The verifier agrees with botocore's signer on paths and queries that need encoding, header and
query-string auth alike; the derived key is cached."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from modelyard.auth import sigv4
from modelyard.auth.errors import AuthFailure
from modelyard.cli.server_command import is_loopback

CREDENTIALS = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
URLS = ["http://h:1/endpoints/my-ep/invocations", "http://h:1/endpoints/a%20b~c/invocations?z=1&a=b%20c&a=0",
        "http://h:1/./endpoints//x/../y/invocations?k=%2F%2B&empty=", "http://h:1/"]


def as_received(request: AWSRequest) -> sigv4.SignedRequest:
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = {name.lower(): value for name, value in prepared.headers.items()}
    headers["host"] = parts.netloc
    body = prepared.body if isinstance(prepared.body, bytes) else (prepared.body or "").encode()
    return sigv4.SignedRequest(prepared.method, parts.path or "/", parts.query, headers, body)


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("presigned", [False, True])
def test_botocore_signatures_verify(url: str, presigned: bool) -> None:
    request = AWSRequest(method="POST", url=url, data=b'{"a": 1}', headers={"Content-Type": "text/csv"})
    auth = SigV4QueryAuth(CREDENTIALS, "sagemaker", "eu-west-1", expires=60) if presigned else \
        SigV4Auth(CREDENTIALS, "sagemaker", "eu-west-1")
    auth.add_auth(request)
    received = as_received(request)
    signature = sigv4.parse(received)
    assert signature.presigned is presigned and signature.region == "eu-west-1"
    keys = sigv4.SigningKeys()
    sigv4.verify(received, signature, CREDENTIALS.secret_key, keys, sigv4.PayloadRules())
    with pytest.raises(AuthFailure) as refused:
        sigv4.verify(received, signature, "another secret", keys, sigv4.PayloadRules())
    assert refused.value.code == "InvalidSignatureException"
    assert len(keys._keys) == 2


def test_the_signing_key_is_derived_once_per_scope() -> None:
    keys = sigv4.SigningKeys(capacity=2)
    first = keys.key("s", "20261130", "us-east-1", "sagemaker")
    assert keys.key("s", "20261130", "us-east-1", "sagemaker") is first
    keys.key("s", "20261130", "us-east-1", "logs")
    keys.key("s", "20261201", "us-east-1", "logs")
    assert len(keys._keys) == 1


@pytest.mark.parametrize("key_length", [0, 1, 32, 63, 64, 65, 200])
def test_the_prepared_hmac_is_rfc_2104_hmac_sha256(key_length: int) -> None:
    key = bytes(range(256))[:key_length] or b""
    prepared = sigv4.SigningKey(key)
    for message in (b"", b"a", b"x" * 63, b"y" * 64, b"z" * 1000):
        assert prepared.hexdigest(message) == hmac.new(key, message, hashlib.sha256).hexdigest()
    assert prepared.key is key


def test_a_signature_with_other_than_ascii_is_a_mismatch() -> None:
    request = AWSRequest(method="POST", url=URLS[0], data=b"{}", headers={"Content-Type": "text/csv"})
    SigV4Auth(CREDENTIALS, "sagemaker", "eu-west-1").add_auth(request)
    received = as_received(request)
    signature = sigv4.parse(received)
    signature.signature = signature.signature[:-1] + "\u00e9"
    with pytest.raises(AuthFailure) as refused:
        sigv4.verify(received, signature, CREDENTIALS.secret_key, sigv4.SigningKeys(), sigv4.PayloadRules())
    assert refused.value.code == "InvalidSignatureException"


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                            ("127.0.0.2", True), ("0.0.0.0", False), ("::", False),
                                            ("10.1.2.3", False)])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
