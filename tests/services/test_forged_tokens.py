"""Forged or foreign NextTokens are a clear 400 in every listing, never a 500 (both stores).

Tokens are minted with the server's own page-token key (``Mint``), so the shape checks behind the
HMAC are what refuses them; ``test_a_token_signed_with_another_key_is_refused`` covers the HMAC.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest

from modelyard.page_tokens import encode_token
from tests.conftest import client_for
from tests.support.aws_errors import code, error_of, message
from tests.test_page_tokens import forge

MODELS_KIND = "resources:model/created_at/desc"


@dataclass(frozen=True)
class Mint:
    """A token the server's key signs: ``kind`` and ``position``, or a forged ``payload`` text."""

    kind: str = ""
    position: Any = None
    payload: str | None = None

    def token(self, server) -> str:  # type: ignore[no-untyped-def]
        key = server.page_token_key
        return forge(self.payload, key) if self.payload is not None else encode_token(self.kind, self.position,
                                                                                      key=key)


def resolve(token: Mint | str, server) -> str:  # type: ignore[no-untyped-def]
    return token.token(server) if isinstance(token, Mint) else token


def encode(kind: str, position: Any) -> Mint:
    return Mint(kind, position)


def forged(payload: str) -> Mint:
    return Mint(payload=payload)


def old_style(position: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


FORGED_LIST_TOKENS = [
    encode(MODELS_KIND, [None, 1]),
    encode(MODELS_KIND, [1, 2**70]),
    encode(MODELS_KIND, [2**70, 1]),
    encode(MODELS_KIND, ["a", 1]),
    encode(MODELS_KIND, [1.0, "1"]),
    encode(MODELS_KIND, [1.0]),
    forged(f'["{MODELS_KIND}",[NaN,1]]'),
    encode("resources:model/name/asc", ["a", 1]),
    encode("resources:endpoint-config/created_at/desc", [1.0, 1]),
    old_style([None, 1]), old_style([1, 2**70]), "W05hTiwxXQ==", "%%%", "garbage!",
]


@pytest.mark.parametrize("token", FORGED_LIST_TOKENS)
def test_list_models_refuses_forged_tokens(any_server, token: Mint | str) -> None:  # type: ignore[no-untyped-def]
    err = error_of(client_for(any_server, "sagemaker").list_models, NextToken=resolve(token, any_server))
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


@pytest.mark.parametrize("token", [encode("search", [False, None, 2**70]),
                                   encode("search", [False, [1], 1]),
                                   forged('["search",[false,NaN,1]]'), encode("tags", "x"), "garbage"])
def test_search_refuses_forged_tokens(sm, server, token: Mint | str) -> None:  # type: ignore[no-untyped-def]
    err = error_of(sm.search, Resource="ModelPackage", NextToken=resolve(token, server))
    assert code(err) == "ValidationException" and "Invalid pagination token" in message(err)


@pytest.mark.parametrize("token", [encode("tags", 1), encode("search", "x"), old_style("tags:x")])
def test_list_tags_refuses_forged_tokens(sm, server, unique, token: Mint | str) -> None:  # type: ignore[no-untyped-def]
    arn = sm.create_model(ModelName=unique, ExecutionRoleArn="arn:aws:iam::000000000000:role/r",
                          PrimaryContainer={"Image": "image:1"})["ModelArn"]
    err = error_of(sm.list_tags, ResourceArn=arn, NextToken=resolve(token, server))
    assert code(err) == "ValidationException" and "Invalid pagination token" in message(err)


LOGS_FORGED = [encode("logs:groups", [2**70]), encode("logs:groups", [1]),
               encode("logs:groups", [[1]]), forged('["logs:groups",[NaN]]'),
               encode("logs:streams/name/asc", [1]), "garbage!", "f/0"]


@pytest.mark.parametrize("token", LOGS_FORGED)
def test_logs_listings_refuse_forged_tokens(server, unique, token: Mint | str) -> None:  # type: ignore[no-untyped-def]
    logs = client_for(server, "logs")
    token = resolve(token, server)
    group = f"/test/{unique}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    for call in (lambda: logs.describe_log_groups(nextToken=token),
                 lambda: logs.describe_log_streams(logGroupName=group, nextToken=token),
                 lambda: logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=token),
                 lambda: logs.filter_log_events(logGroupName=group, nextToken=token)):
        err = error_of(call)
        assert code(err) == "InvalidParameterException"


def test_a_token_signed_with_another_key_is_refused(any_server, unique) -> None:  # type: ignore[no-untyped-def]
    sm = client_for(any_server, "sagemaker")
    for index in range(2):
        sm.create_model(ModelName=f"{unique}-{index}", ExecutionRoleArn="arn:aws:iam::000000000000:role/r",
                        PrimaryContainer={"Image": "image:1"})
    real = sm.list_models(NameContains=unique, MaxResults=1)["NextToken"]
    body = real.rpartition(".")[0]
    position = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert sm.list_models(NameContains=unique, MaxResults=1, NextToken=real)["Models"]
    elsewhere = encode_token(position[0], position[1], key=b"the key of another modelyard server")
    assert elsewhere.rpartition(".")[0] == body
    err = error_of(sm.list_models, NameContains=unique, MaxResults=1, NextToken=elsewhere)
    assert code(err) == "ValidationException" and "Invalid pagination token" in message(err)
