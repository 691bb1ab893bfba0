"""The query protocol, spec-driven both ways: botocore serializes a request and our decoder recovers its
parameters; our XML response parses back with botocore's own query parser."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from modelyard.wire.errors import NoSuchEntity, SerializationException, UnknownOperationException, ValidationException
from modelyard.wire.query_protocol import QueryProtocol, decode_params, encode_error, encode_result, form
from modelyard.wire.spec import service_model

REQUESTS = [
    ("iam", "CreateRole", {"RoleName": "r", "AssumeRolePolicyDocument": "{}", "MaxSessionDuration": 3600,
                           "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}]}),
    ("iam", "ListRoles", {"PathPrefix": "/x/", "MaxItems": 10}),
    ("iam", "UpdateAssumeRolePolicy", {"RoleName": "r", "PolicyDocument": "{\"a\": [1, 2]}"}),
    ("sts", "AssumeRole", {"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "session",
                           "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
                           "Tags": [{"Key": "k", "Value": "v"}], "TransitiveTagKeys": ["k"],
                           "DurationSeconds": 900}),
    ("sts", "GetCallerIdentity", {}),
]


@pytest.mark.parametrize(("service", "operation", "params"), REQUESTS)
def test_botocore_requests_decode_to_their_parameters(service: str, operation: str, params: dict[str, Any]) -> None:
    model = service_model(service).operation_model(operation)
    request = create_serializer("query").serialize_to_request(params, model)
    values = form(urlencode(request["body"]))  # as botocore sends the serialized dict
    assert values["Action"] == operation
    assert decode_params(model, values) == params


def test_lists_and_maps_of_a_response_parse_back_with_botocore() -> None:
    model = service_model("iam").operation_model("ListRoles")
    created = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    result = {"Roles": [{"Path": "/", "RoleName": "a<b>", "RoleId": "AROA1", "Arn": "arn:aws:iam::1:role/a",
                         "CreateDate": created.timestamp(), "Tags": [{"Key": "k", "Value": "v&w"}]}],
              "IsTruncated": False}
    body = encode_result(model, "https://iam.amazonaws.com/doc/2010-05-08/", result, "req-1")
    parsed = create_parser("query").parse({"body": body, "headers": {}, "status_code": 200}, model.output_shape)
    role = parsed["Roles"][0]
    assert role["RoleName"] == "a<b>" and role["CreateDate"] == created and role["Tags"] == [{"Key": "k",
                                                                                              "Value": "v&w"}]
    assert parsed["IsTruncated"] is False
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"


def test_errors_parse_back_with_botocore() -> None:
    status, headers, body = encode_error(NoSuchEntity("no role <x>"), "ns", "req-2")
    assert status == 404 and (b"content-type", b"text/xml") in headers
    parsed = create_parser("query").parse({"body": body, "headers": {}, "status_code": status}, None)
    assert parsed["Error"] == {"Type": "Sender", "Code": "NoSuchEntity", "Message": "no role <x>"}
    status, _, body = encode_error(ValidationException("bad"), "ns", "req-3")
    assert b"<Code>ValidationError</Code>" in body and status == 400


def test_bad_input() -> None:
    model = service_model("iam").operation_model("ListRoles")
    with pytest.raises(SerializationException, match="MaxItems: 'ten' is not a valid integer"):
        decode_params(model, {"Action": "ListRoles", "MaxItems": "ten"})
    with pytest.raises(ValidationException):
        decode_params(service_model("iam").operation_model("GetRole"), {"Action": "GetRole"})
    with pytest.raises(UnknownOperationException, match="Could not find operation Nope for version 2011-06-15"):
        QueryProtocol("sts").call("Nope")
