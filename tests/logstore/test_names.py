"""Group and stream names as path components."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from modelyard.logstore import LogStore
from modelyard.logstore.names import MAX_COMPONENT, decode_name, encode_name, is_hashed


def test_sagemaker_group_names_are_one_safe_component() -> None:
    encoded = encode_name("/aws/sagemaker/Endpoints/my-ep")
    assert encoded == "%2Faws%2Fsagemaker%2FEndpoints%2Fmy-ep"
    assert decode_name(encoded) == "/aws/sagemaker/Endpoints/my-ep"


def test_dots_never_make_hidden_or_special_entries() -> None:
    for name in (".", "..", ".hidden", "a.b"):
        encoded = encode_name(name)
        assert not encoded.startswith(".") and "/" not in encoded
        assert decode_name(encoded) == name
    assert encode_name("a.b") == "a.b"


@given(st.text(min_size=1, max_size=60))
def test_round_trip_of_any_name(name: str) -> None:
    encoded = encode_name(name)
    assert "/" not in encoded and "\0" not in encoded and not encoded.startswith(".")
    assert len(encoded) <= MAX_COMPONENT + 2
    if not is_hashed(encoded):
        assert decode_name(encoded) == name


def test_distinct_names_never_share_a_component() -> None:
    names = ["a/b", "a%2Fb", "a%b", "A/b", "a b", "a+b"]
    assert len({encode_name(n) for n in names}) == len(names)


def test_long_names_are_hashed_and_listed_by_their_real_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    group = "/aws/" + "g" * 500
    stream = "é/" * 150
    assert is_hashed(encode_name(group)) and len(encode_name(stream)) <= MAX_COMPONENT
    store = LogStore(tmp_path)
    with store.writer(group, stream) as out:
        out.write_line("hello", 5)
    assert [g.name for g in store.groups()] == [group]
    assert [s.name for s in store.streams(group)] == [stream]
    assert [e.message for e in store.read(group, stream, start_from_head=True).events] == ["hello"]
