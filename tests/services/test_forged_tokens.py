"""Forged or foreign NextTokens are a clear 400 in every listing, never a 500 (both stores)."""

from __future__ import annotations

import base64
import json

import pytest

from modelyard.page_tokens import encode_token
from tests.conftest import client_for
from tests.support.aws_errors import code, error_of, message
from tests.test_page_tokens import forge

MODELS_KIND = "resources:model/created_at/desc"


def old_style(position: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


FORGED_LIST_TOKENS = [
    encode_token(MODELS_KIND, [None, 1]),
    encode_token(MODELS_KIND, [1, 2**70]),
    encode_token(MODELS_KIND, [2**70, 1]),
    encode_token(MODELS_KIND, ["a", 1]),
    encode_token(MODELS_KIND, [1.0, "1"]),
    encode_token(MODELS_KIND, [1.0]),
    forge(f'["{MODELS_KIND}",[NaN,1]]'),
    encode_token("resources:model/name/asc", ["a", 1]),
    encode_token("resources:endpoint-config/created_at/desc", [1.0, 1]),
    old_style([None, 1]), old_style([1, 2**70]), "W05hTiwxXQ==", "%%%", "garbage!",
]


@pytest.mark.parametrize("token", FORGED_LIST_TOKENS)
def test_list_models_refuses_forged_tokens(sm_any, token: str) -> None:  # type: ignore[no-untyped-def]
    err = error_of(sm_any.list_models, NextToken=token)
    assert code(err) == "ValidationException" and "Invalid pagination token" in message(err)


def test_a_real_token_still_pages(sm_any, unique) -> None:  # type: ignore[no-untyped-def]
    for index in range(3):
        sm_any.create_model(ModelName=f"{unique}-{index}", ExecutionRoleArn="arn:aws:iam::000000000000:role/r",
                            PrimaryContainer={"Image": "image:1"})
    first = sm_any.list_models(NameContains=unique, MaxResults=2)
    rest = sm_any.list_models(NameContains=unique, MaxResults=2, NextToken=first["NextToken"])
    assert len(first["Models"]) == 2 and len(rest["Models"]) == 1 and "NextToken" not in rest
    err = error_of(sm_any.list_models, NameContains=unique, MaxResults=2, SortBy="Name",
                   NextToken=first["NextToken"])
    assert code(err) == "ValidationException"


@pytest.mark.parametrize("token", [encode_token("search", [False, None, 2**70]),
                                   encode_token("search", [False, [1], 1]),
                                   forge('["search",[false,NaN,1]]'), encode_token("tags", "x"), "garbage"])
def test_search_refuses_forged_tokens(sm, token: str) -> None:  # type: ignore[no-untyped-def]
    err = error_of(sm.search, Resource="ModelPackage", NextToken=token)
    assert code(err) == "ValidationException" and "Invalid pagination token" in message(err)


@pytest.mark.parametrize("token", [encode_token("tags", 1), encode_token("search", "x"), old_style("tags:x")])
def test_list_tags_refuses_forged_tokens(sm, unique, token: str) -> None:  # type: ignore[no-untyped-def]
    arn = sm.create_model(ModelName=unique, ExecutionRoleArn="arn:aws:iam::000000000000:role/r",
                          PrimaryContainer={"Image": "image:1"})["ModelArn"]
    err = error_of(sm.list_tags, ResourceArn=arn, NextToken=token)
    assert code(err) == "ValidationException" and "Invalid pagination token" in message(err)


LOGS_FORGED = [encode_token("logs:groups", [2**70]), encode_token("logs:groups", [1]),
               encode_token("logs:groups", [[1]]), forge('["logs:groups",[NaN]]'),
               encode_token("logs:streams/name/asc", [1]), "garbage!", "f/0"]


@pytest.mark.parametrize("token", LOGS_FORGED)
def test_logs_listings_refuse_forged_tokens(server, unique, token: str) -> None:  # type: ignore[no-untyped-def]
    logs = client_for(server, "logs")
    group = f"/test/{unique}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    for call in (lambda: logs.describe_log_groups(nextToken=token),
                 lambda: logs.describe_log_streams(logGroupName=group, nextToken=token),
                 lambda: logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=token),
                 lambda: logs.filter_log_events(logGroupName=group, nextToken=token)):
        err = error_of(call)
        assert code(err) == "InvalidParameterException"
