"""STS GetCallerIdentity and IAM GetRole over the query protocol, through boto3 and by hand."""

from __future__ import annotations

import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import client_for
from tests.support.server import ServerProcess, signed_headers


def test_get_caller_identity_names_a_session_of_the_accounts_role(server: ServerProcess) -> None:
    identity = client_for(server, "sts").get_caller_identity()
    key = server.admin_key["AccessKeyId"]
    account = identity["Account"]
    assert len(account) == 12 and account.isdigit()
    assert identity["Arn"] == f"arn:aws:sts::{account}:assumed-role/modelyard/{key}"
    assert identity["UserId"].startswith("AROA") and identity["UserId"].endswith(f":{key}")


def test_get_role_answers_the_role_get_caller_identity_assumed(server: ServerProcess) -> None:
    account = client_for(server, "sts").get_caller_identity()["Account"]
    role = client_for(server, "iam").get_role(RoleName="modelyard")["Role"]
    assert role["Arn"] == f"arn:aws:iam::{account}:role/modelyard"
    assert role["Path"] == "/" and role["RoleId"].startswith("AROA") and role["MaxSessionDuration"] == 3600
    trust = role["AssumeRolePolicyDocument"]  # boto3 decodes the URL-encoded JSON document
    assert trust["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert role["CreateDate"].year >= 2020


def test_get_role_of_another_name_is_no_such_entity(server: ServerProcess) -> None:
    with pytest.raises(ClientError) as info:
        client_for(server, "iam").get_role(RoleName="SomeoneElse")
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "NoSuchEntity"
    assert "The role with name SomeoneElse cannot be found" in error["Error"]["Message"]


def test_invalid_input_is_a_validation_error(server: ServerProcess) -> None:
    with pytest.raises(ClientError) as info:
        client_for(server, "iam").get_role(RoleName="bad name with spaces!")
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unimplemented_and_unknown_actions(server: ServerProcess) -> None:
    with pytest.raises(ClientError) as info:
        client_for(server, "iam").list_roles()
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "does not implement iam operation ListRoles" in info.value.response["Error"]["Message"]
    body = b"Action=NoSuchThing&Version=2011-06-15"
    url = f"{server.url}/"
    headers = signed_headers(server, "POST", url, body, {"Content-Type": "application/x-www-form-urlencoded"},
                             service="sts")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with pytest.raises(urllib.error.HTTPError) as http_error:
        urllib.request.urlopen(request, timeout=10)
    text = http_error.value.read().decode()
    assert http_error.value.code == 400
    assert "<Code>InvalidAction</Code>" in text and "Could not find operation NoSuchThing" in text


def test_a_wrong_key_is_refused_in_the_query_shape(server: ServerProcess) -> None:
    sts = boto3.client("sts", endpoint_url=server.url, region_name="us-east-1",
                       aws_access_key_id="AKIAUNKNOWN000000000", aws_secret_access_key="x" * 40)
    with pytest.raises(ClientError) as info:
        sts.get_caller_identity()
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)
    assert info.value.response["Error"]["Code"] in ("InvalidClientTokenId", "UnrecognizedClientException")
