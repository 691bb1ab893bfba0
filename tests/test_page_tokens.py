"""The page-token codec: round trips, and refusal of anything it did not issue for the same kind."""

from __future__ import annotations

import base64

import pytest

from modelyard.page_tokens import (
    InvalidPageToken,
    _mac,
    decode_token,
    encode_token,
    expect_int,
    expect_number,
    expect_scalar,
)


def forge(payload: str, key: bytes | None = None) -> str:
    """A token with a valid MAC around any payload text (what a forger who knew the server's key would
    make): the shape checks behind the MAC must still refuse it."""
    body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return f"{body}.{_mac(body, key)}"


@pytest.mark.parametrize("position", [[1.5, 42], ["name", 7], {"stream": 10}, "_x", [None, 1]])
def test_round_trip(position: object) -> None:
    assert decode_token("kind", encode_token("kind", position)) == position


@pytest.mark.parametrize("token", [
    "", "garbage!", "%%%", "bm90LWEtdG9rZW4=", "f/0", "F1.e30=", "a.b.c",
    base64.urlsafe_b64encode(b'["kind",[1,2]]').decode(),
    forge('["kind",[NaN,1]]'), forge('["kind",[Infinity,1]]'), forge("not json"), forge('{"kind":1}'),
    forge('["kind"]'), forge("[" * 5000),
])
def test_refuses_what_it_did_not_issue(token: str) -> None:
    with pytest.raises(InvalidPageToken):
        decode_token("kind", token)


def test_refuses_an_edited_payload_and_another_kind() -> None:
    token = encode_token("kind", [1, 2])
    body, _, checksum = token.partition(".")
    edited = base64.urlsafe_b64encode(b'["kind",[1,3]]').decode().rstrip("=")
    with pytest.raises(InvalidPageToken):
        decode_token("kind", f"{edited}.{checksum}")
    with pytest.raises(InvalidPageToken):
        decode_token("other", token)


def test_position_checks() -> None:
    assert expect_int(5) == 5 and expect_number(1.5) == 1.5 and expect_scalar("a") == "a"
    for bad in (2**70, -1, True, 1.5, None, "1"):
        with pytest.raises(InvalidPageToken):
            expect_int(bad)
    for bad in (float("nan"), float("inf"), 2**70, None, "1", True):
        with pytest.raises(InvalidPageToken):
            expect_number(bad)
    for bad in ([1], {"a": 1}, 2**70, float("nan")):
        with pytest.raises(InvalidPageToken):
            expect_scalar(bad)


def test_refuses_a_token_signed_with_another_secret() -> None:
    token = encode_token("kind", [1, 2])
    other = encode_token("kind", [1, 2], key=b"another server's secret key......")
    assert token.partition(".")[0] == other.partition(".")[0] and token != other
    assert decode_token("kind", token) == [1, 2]
    with pytest.raises(InvalidPageToken):
        decode_token("kind", other)
    with pytest.raises(InvalidPageToken):
        decode_token("kind", forge('["kind",[1,2]]', key=b"x" * 32))
