"""SigV4 as AWS checks it, with botocore signing: each refusal answers AWS's error code and status.

JSON 1.1 services (sagemaker, logs) answer signature errors with 400, the rest-json runtime with 403.
"""

from __future__ import annotations

import datetime
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.auth.conftest import client
from tests.support.aws_errors import code, error_of, message
from tests.support.server import ServerProcess

LIST_MODELS = {"X-Amz-Target": "SageMaker.ListModels", "Content-Type": "application/x-amz-json-1.1"}


def send(request: AWSRequest) -> tuple[int, dict[str, Any]]:
    """Send a (signed) botocore request as it is; the status and JSON body of the answer."""
    prepared = request.prepare()
    raw = urllib.request.Request(prepared.url, data=prepared.body or None, method=prepared.method,
                                 headers=dict(prepared.headers.items()))
    try:
        with urllib.request.urlopen(raw, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def list_models_request(server: ServerProcess, body: bytes = b"{}") -> AWSRequest:
    return AWSRequest(method="POST", url=f"{server.url}/", headers=dict(LIST_MODELS), data=body)


def signed(server: ServerProcess, service: str = "sagemaker", region: str = "us-east-1",
           secret: str | None = None) -> AWSRequest:
    key = server.admin_key
    request = list_models_request(server)
    SigV4Auth(Credentials(key["AccessKeyId"], secret or key["SecretAccessKey"]), service, region).add_auth(request)
    return request


def test_a_correctly_signed_request_is_served(auth_server: ServerProcess) -> None:
    assert send(signed(auth_server)) == (200, {"Models": []})
    assert client(auth_server, "sagemaker", auth_server.admin_key).list_models()["Models"] == []
    assert "logGroups" in client(auth_server, "logs", auth_server.admin_key).describe_log_groups()


def test_wrong_secret(auth_server: ServerProcess) -> None:
    key = {**auth_server.admin_key, "SecretAccessKey": "x" * 40}
    err = error_of(client(auth_server, "sagemaker", key).list_models)
    assert code(err) == "InvalidSignatureException" and err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message(err).startswith("The request signature we calculated does not match the signature you provided.")
    runtime = error_of(client(auth_server, "sagemaker-runtime", key).invoke_endpoint, EndpointName="e", Body=b"1")
    assert code(runtime) == "InvalidSignatureException"
    assert runtime.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize("minutes, words", [(-16, "Signature expired"), (16, "Signature not yet current")])
def test_a_clock_off_by_more_than_15_minutes(auth_server: ServerProcess, minutes: int, words: str) -> None:
    sm = client(auth_server, "sagemaker", auth_server.admin_key)
    skewed = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    with mock.patch("botocore.auth.get_current_datetime", return_value=skewed.replace(tzinfo=None)):
        err = error_of(sm.list_models)
    assert code(err) == "InvalidSignatureException" and message(err).startswith(words)
    near = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes * 13 // 16)
    with mock.patch("botocore.auth.get_current_datetime", return_value=near.replace(tzinfo=None)):
        assert sm.list_models()["Models"] == []


def test_a_body_changed_after_signing(auth_server: ServerProcess) -> None:
    request = signed(auth_server)
    request.data = b'{"MaxResults": 5}'
    status, body = send(request)
    assert (status, body["__type"]) == (400, "InvalidSignatureException")
    sm = client(auth_server, "sagemaker", auth_server.admin_key)

    def tamper(request: Any, **_: Any) -> None:
        request.body = b'{"MaxResults":7}'
        request.headers["Content-Length"] = str(len(request.body))

    sm.meta.events.register("before-send.sagemaker.ListModels", tamper)
    assert code(error_of(sm.list_models, MaxResults=5)) == "InvalidSignatureException"


def test_a_declared_payload_hash_must_match_the_body(auth_server: ServerProcess) -> None:
    key = auth_server.admin_key
    request = list_models_request(auth_server)
    request.headers["X-Amz-Content-SHA256"] = "0" * 64
    SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "sagemaker", "us-east-1").add_auth(request)
    status, body = send(request)
    assert (status, body["__type"]) == (400, "InvalidSignatureException")
    assert "x-amz-content-sha256" in body["message"]
    request = list_models_request(auth_server)
    request.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "sagemaker", "us-east-1").add_auth(request)
    assert send(request)[1]["__type"] == "InvalidSignatureException"


@pytest.mark.parametrize("marker", ["STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                                    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "UNSIGNED-PAYLOAD"])
@pytest.mark.parametrize("target", ["sagemaker", "runtime"])
def test_streaming_and_unsigned_payloads_are_for_s3_only(auth_server: ServerProcess, marker: str,
                                                         target: str) -> None:
    """A correctly signed request whose payload hash is a streaming (or unsigned) marker gets a 400 that
    says only the S3 API takes it, not a "does not match"."""
    key = auth_server.admin_key
    if target == "sagemaker":
        request = list_models_request(auth_server)
    else:
        request = AWSRequest(method="POST", url=f"{auth_server.url}/endpoints/e/invocations", data=b"1",
                             headers={"Content-Type": "text/csv"})
    request.headers["X-Amz-Content-SHA256"] = marker
    request.headers["Content-Encoding"] = "aws-chunked"
    SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "sagemaker", "us-east-1").add_auth(request)
    status, body = send(request)
    error_type = body.get("__type") or body.get("code")
    assert (status, error_type) == (400, "InvalidSignatureException"), body
    text = body.get("message") or body.get("Message")
    assert "accepted only by the S3 API" in text and marker in text
    assert "does not match" not in text


def send_raw(request: AWSRequest) -> tuple[int, dict[str, Any]]:
    """Send a signed request with every header line as it is, repeated headers included (``prepare``
    would keep only the last of them)."""
    prepared = request.prepare()
    parts = urllib.parse.urlsplit(prepared.url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    try:
        connection.putrequest(prepared.method, parts.path or "/", skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", parts.netloc)
        body = prepared.body or b""
        for name, value in request.headers.items():
            if name.lower() != "content-length":
                connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        answer = connection.getresponse()
        raw = answer.read()
        assert raw.startswith(b"{"), (answer.status, raw[:200])
        return answer.status, json.loads(raw)
    finally:
        connection.close()


def test_a_repeated_header_is_signed_as_its_values_joined(auth_server: ServerProcess) -> None:
    """AWS joins a repeated header's values, each trimmed and its inner spaces collapsed, with commas in
    the order sent; a signature over one value only does not cover the request with both."""
    key = auth_server.admin_key
    request = list_models_request(auth_server)
    request.headers.add_header("X-Amz-Meta-Trail", "  one   two ")
    request.headers.add_header("X-Amz-Meta-Trail", "three")
    SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "sagemaker", "us-east-1").add_auth(request)
    assert send_raw(request) == (200, {"Models": []})
    reordered = list_models_request(auth_server)
    reordered.headers.add_header("X-Amz-Meta-Trail", "three")
    reordered.headers.add_header("X-Amz-Meta-Trail", "  one   two ")
    reordered.headers["X-Amz-Date"] = request.headers["X-Amz-Date"]
    reordered.headers["Authorization"] = request.headers["Authorization"]
    status, body = send_raw(reordered)
    assert (status, body["__type"]) == (400, "InvalidSignatureException")


def test_no_signature_at_all(auth_server: ServerProcess) -> None:
    status, body = send(list_models_request(auth_server))
    assert (status, body["__type"], body["message"]) == (400, "MissingAuthenticationTokenException",
                                                          "Missing Authentication Token")
    runtime = AWSRequest(method="POST", url=f"{auth_server.url}/endpoints/e/invocations", data=b"1",
                         headers={"Content-Type": "text/csv"})
    status, body = send(runtime)
    assert (status, body["__type"]) == (403, "MissingAuthenticationTokenException")
    garbage = list_models_request(auth_server)
    garbage.headers["Authorization"] = "garbage"
    status, body = send(garbage)
    assert (status, body["__type"]) == (400, "IncompleteSignatureException")
    partial = list_models_request(auth_server)
    partial.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261130/us-east-1/sagemaker"
    status, body = send(partial)
    assert (status, body["__type"]) == (400, "IncompleteSignatureException")
    assert "requires 'Signature' parameter" in body["message"]


def test_an_unknown_access_key(auth_server: ServerProcess) -> None:
    key = {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
    err = error_of(client(auth_server, "sagemaker", key).list_models)
    assert (code(err), message(err)) == ("UnrecognizedClientException",
                                         "The security token included in the request is invalid.")
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_signature_for_another_service_or_region(auth_server: ServerProcess) -> None:
    status, body = send(signed(auth_server, service="logs"))
    assert (status, body["__type"]) == (400, "InvalidSignatureException")
    assert body["message"].startswith("Credential should be scoped to correct service: 'sagemaker'")
    status, body = send(signed(auth_server, region="us-moon-1"))
    assert (status, body["__type"]) == (400, "InvalidSignatureException")
    assert "valid region" in body["message"]
    assert send(signed(auth_server, region="eu-west-3"))[0] == 200


def test_a_presigned_request(auth_server: ServerProcess) -> None:
    key = auth_server.admin_key
    credentials = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    request = list_models_request(auth_server)
    SigV4QueryAuth(credentials, "sagemaker", "us-east-1", expires=60).add_auth(request)
    assert "X-Amz-Signature=" in request.url and "Authorization" not in request.headers
    assert send(request) == (200, {"Models": []})
    forged = list_models_request(auth_server)
    SigV4QueryAuth(credentials, "sagemaker", "us-east-1", expires=60).add_auth(forged)
    forged.url = forged.url.replace("X-Amz-Expires=60", "X-Amz-Expires=61")
    assert send(forged)[1]["__type"] == "InvalidSignatureException"
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=120)
    expired = list_models_request(auth_server)
    with mock.patch("botocore.auth.get_current_datetime", return_value=old.replace(tzinfo=None)):
        SigV4QueryAuth(credentials, "sagemaker", "us-east-1", expires=60).add_auth(expired)
    status, body = send(expired)
    assert (status, body["__type"]) == (400, "InvalidSignatureException") and "expired" in body["message"]
