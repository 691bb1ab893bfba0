"""What a service that checks its own payload (S3) gets from authentication: ``Principal.payload`` with the
seed signature, the derived signing key, the scope and the date, enough to verify an aws-chunked body."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from modelyard.auth.authenticator import AnyCredentials, SigV4Authenticator
from modelyard.auth.keys import KeyRing, KeyStore
from modelyard.auth.secrets import SecretBox, load_server_secret
from modelyard.store.database import Database
from modelyard.wire import aws_chunked
from modelyard.wire.auth import AuthRequest, AuthRules
from modelyard.wire.aws_chunked import AwsChunkedDecoder
from modelyard.wire.errors import ServiceError
from modelyard.wire.payload_errors import SignatureDoesNotMatch

S3_RULES = AuthRules("s3", error_status=403, unsigned_payload=True, streaming_payload=True)
DATA = bytes(range(256)) * 100


@pytest.fixture()
def credentials(tmp_path: Path) -> tuple[SigV4Authenticator, Credentials]:
    store = KeyStore(Database.connect(f"sqlite:///{tmp_path / 'db.sqlite'}"), SecretBox(load_server_secret(tmp_path)))
    made = store.create("s3-user", "111122223333")
    return SigV4Authenticator(KeyRing(store)), Credentials(made.key.access_key_id, made.secret)


def received(request: AWSRequest, body: bytes) -> AuthRequest:
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = {name.lower(): value for name, value in prepared.headers.items()}
    headers["host"] = parts.netloc
    return AuthRequest(prepared.method, parts.path, parts.query, headers, body, S3_RULES, "s3:PutObject")


def signed_chunks(data: bytes, payload_key: bytes, seed: str, scope: str, timestamp: str, size: int) -> bytes:
    """An aws-chunked body signed as AWS's sigv4-streaming page describes (the client's side)."""
    previous, body = seed, b""
    pieces = [data[i:i + size] for i in range(0, len(data), size)] + [b""]
    for piece in pieces:
        to_sign = "\n".join(("AWS4-HMAC-SHA256-PAYLOAD", timestamp, scope, previous,
                             hashlib.sha256(b"").hexdigest(), hashlib.sha256(piece).hexdigest()))
        previous = hmac.digest(payload_key, to_sign.encode(), "sha256").hex()
        body += f"{len(piece):x};chunk-signature={previous}\r\n".encode() + piece + b"\r\n"
    return body


def test_a_signed_streaming_put_carries_what_its_body_needs(
        credentials: tuple[SigV4Authenticator, Credentials]) -> None:
    authenticator, creds = credentials
    request = AWSRequest(method="PUT", url="http://127.0.0.1:8080/bucket/key", data=b"", headers={
        "X-Amz-Content-SHA256": aws_chunked.SIGNED, "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(DATA))})
    SigV4Auth(creds, "s3", "eu-west-1").add_auth(request)  # S3SigV4Auth would replace the declared marker
    principal = authenticator.verify(received(request, b""))
    payload = principal.payload
    assert payload is not None and principal.account == "111122223333"
    assert payload.content_sha256 == aws_chunked.SIGNED and payload.signing_key is not None
    assert payload.seed_signature == request.headers["Authorization"].rpartition("Signature=")[2]
    assert payload.scope.endswith("/eu-west-1/s3/aws4_request")
    assert payload.timestamp == request.headers["X-Amz-Date"]
    headers = {name.lower(): value for name, value in request.headers.items()}
    expected_key = b"AWS4" + creds.secret_key.encode()
    for part in (payload.timestamp[:8], "eu-west-1", "s3", "aws4_request"):
        expected_key = hmac.digest(expected_key, part.encode(), "sha256")
    assert payload.signing_key == expected_key
    body = signed_chunks(DATA, payload.signing_key, payload.seed_signature, payload.scope, payload.timestamp, 8192)
    decoder = AwsChunkedDecoder.for_request(headers, payload)
    assert decoder.feed(body) == DATA and decoder.finish() == {}
    forged = signed_chunks(DATA, b"another key", payload.seed_signature, payload.scope, payload.timestamp, 8192)
    with pytest.raises(SignatureDoesNotMatch):
        AwsChunkedDecoder.for_request(headers, payload).feed(forged)


def test_services_without_payload_markers_get_no_payload(
        credentials: tuple[SigV4Authenticator, Credentials]) -> None:
    authenticator, creds = credentials
    request = AWSRequest(method="PUT", url="http://127.0.0.1:8080/bucket/key", data=b"x")
    S3SigV4Auth(creds, "s3", "eu-west-1").add_auth(request)
    plain = received(request, b"x")
    plain.rules = AuthRules("s3")
    assert authenticator.verify(plain).payload is None


def test_auth_off_hands_over_the_marker_without_a_key() -> None:
    headers = {"x-amz-content-sha256": aws_chunked.SIGNED, "host": "h",
               "authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261130/us-east-1/s3/aws4_request, "
                                "SignedHeaders=host, Signature=" + "a" * 64}
    principal = AnyCredentials().verify(AuthRequest("PUT", "/b/k", "", headers, b"", S3_RULES, "s3:PutObject"))
    assert principal.payload is not None and principal.payload.signing_key is None
    assert principal.payload.seed_signature == "a" * 64
    with pytest.raises(ServiceError) as refused:
        AnyCredentials().verify(AuthRequest("POST", "/", "", headers, b"", AuthRules("sagemaker"), "sagemaker:X"))
    assert refused.value.status == 400 and "accepted only by the S3 API" in refused.value.message
