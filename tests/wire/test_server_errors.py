"""The running server answers bad input with AWS-shaped 4xx errors, and every operation is recognised."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from modelyard.services.catalog import load_services
from modelyard.services.dispatch import implemented
from modelyard.wire.spec import service_model
from tests.support.server import signed_headers


def post(server, target: str | None, body: bytes, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    url = server.url + "/"
    request = urllib.request.Request(url, data=body, method="POST", headers=signed_headers(server, "POST", url, body, {
        "Content-Type": "application/x-amz-json-1.1", **({"X-Amz-Target": target} if target else {}),
        **(headers or {})}))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def test_every_operation_answers_and_unimplemented_ones_say_so(server):  # type: ignore[no-untyped-def]
    load_services()
    done = implemented("sagemaker")
    for name in service_model("sagemaker").operation_names:
        status, headers, body = post(server, f"SageMaker.{name}", b"{}")
        error = json.loads(body)
        if name in done:
            assert status < 500, (name, body)
            continue
        if status == 400:
            assert error["__type"] == "ValidationException", (name, body)
        else:
            assert status == 501, (name, status, body)
            assert error["__type"] == "NotImplemented" and name in error["message"]
            assert headers["x-amzn-errortype"] == "NotImplemented"


@pytest.mark.parametrize("target,body,status,code", [
    ("SageMaker.ListModelPackageGroups", b"{oops", 400, "SerializationException"),
    ("SageMaker.Bogus", b"{}", 400, "UnknownOperationException"),
    (None, b"{}", 400, "UnknownOperationException"),
    ("SageMaker.CreateModelPackageGroup", b'{"ModelPackageGroupName": 5}', 400, "SerializationException"),
    ("SageMaker.CreateModelPackageGroup", b'{"ModelPackageGroupName": ""}', 400, "ValidationException"),
    ("SageMaker.DescribeModelPackage",
     b'{"ModelPackageName": "arn:aws:sagemaker:us-east-1:000000000000:model-package/none/1"}', 400,
     "ValidationException"),
])
def test_bad_input_gets_aws_errors(server, target, body, status, code):  # type: ignore[no-untyped-def]
    got_status, headers, raw = post(server, target, body)
    assert got_status == status
    error = json.loads(raw)
    assert error["__type"] == code and error["message"]
    assert headers["x-amzn-errortype"] == code


def test_oversized_body_is_refused(server):  # type: ignore[no-untyped-def]
    body = b'{"ModelPackageGroupName": "' + b"a" * (17 * 1024 * 1024) + b'"}'
    status, _, raw = post(server, "SageMaker.CreateModelPackageGroup", body)
    assert status == 413
    assert json.loads(raw)["__type"] == "RequestEntityTooLargeException"


def test_unknown_route(server):  # type: ignore[no-untyped-def]
    request = urllib.request.Request(server.url + "/nowhere")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 400
    assert json.loads(info.value.read())["__type"] == "UnknownOperationException"
