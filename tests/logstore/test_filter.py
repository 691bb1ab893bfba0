"""FilterLogEvents over several streams: time order, patterns, tokens."""

from __future__ import annotations

import pytest

from modelyard.logstore import LogStore, UnsupportedPattern
from modelyard.logstore.patterns import compile_pattern


@pytest.fixture()
def store(tmp_path) -> LogStore:  # type: ignore[no-untyped-def]
    store = LogStore(tmp_path)
    for host, offset in (("algo-1", 0), ("algo-2", 1)):
        with store.writer("g", f"job/{host}") as out:
            out.write_events([(1000 + 2 * i + offset, f"{host} step {i} {'ERROR' if i % 10 == 0 else 'ok'}")
                              for i in range(50)])
    with store.writer("g", "other/x") as out:
        out.write_line("elsewhere ERROR", 1500)
    return store


def all_pages(store: LogStore, **query) -> list:  # type: ignore[no-untyped-def]
    events, token = [], None
    for _ in range(10_000):
        page = store.filter("g", token=token, **query)
        events += page.events
        token = page.next_token
        if token is None:
            return events
    raise AssertionError("filter never finished")


def test_events_of_all_streams_are_merged_by_time(store: LogStore) -> None:
    events = all_pages(store)
    assert len(events) == 101
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)
    assert len({e.event_id for e in events}) == 101


def test_prefix_names_and_time_range(store: LogStore) -> None:
    events = all_pages(store, stream_prefix="job/", start_time=1010, end_time=1020)
    assert [e.timestamp for e in events] == list(range(1010, 1020))
    assert {e.stream for e in events} == {"job/algo-1", "job/algo-2"}
    only = all_pages(store, stream_names=["job/algo-2", "missing"], pattern="ERROR")
    assert [e.message for e in only] == [f"algo-2 step {i} ERROR" for i in range(0, 50, 10)]


def test_pagination_by_limit_returns_everything_once(store: LogStore) -> None:
    whole = [(e.stream, e.timestamp) for e in all_pages(store)]
    paged = [(e.stream, e.timestamp) for e in all_pages(store, limit=7)]
    assert paged == whole


@pytest.mark.parametrize("budget", [1, 2, 3, 17])
def test_small_scan_budget_still_finds_everything(store: LogStore, monkeypatch: pytest.MonkeyPatch,
                                                  budget: int) -> None:
    monkeypatch.setattr("modelyard.logstore.store.SCAN_BUDGET", budget)
    found = all_pages(store, pattern="ERROR")
    assert sorted(e.message for e in found) == sorted(
        [f"algo-{h} step {i} ERROR" for h in (1, 2) for i in range(0, 50, 10)] + ["elsewhere ERROR"])
    assert [e.timestamp for e in found] == sorted(e.timestamp for e in found)


def test_last_page_has_no_token(store: LogStore) -> None:
    page = store.filter("g", stream_prefix="other/")
    assert page.next_token is None and page.searched == {"other/x": True}


@pytest.mark.parametrize(("pattern", "message", "expected"), [
    ("", "anything", True),
    ("ERROR", "an ERROR here", True),
    ("ERROR", "an error here", False),
    ("ERROR step", "step 3 ERROR", True),
    ('"step 3"', "step 3 ERROR", True),
    ('"step 3"', "step 33", True),
    ('"step 3"', "3 step", False),
    ('"say \\"hi\\""', 'they say "hi"', True),
    ("?ERROR ?WARN", "WARN: disk", True),
    ("?ERROR ?WARN", "INFO", False),
    ("ERROR -Exiting", "ERROR Exiting", False),
    ("ERROR -Exiting", "ERROR retry", True),
])
def test_pattern_terms(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern)(message) is expected


@pytest.mark.parametrize("pattern", ['{ $.level = "ERROR" }', "[ip, user, ...]", "%ERR.*%", '"open',
                                     'a"b', "?"])
def test_unsupported_or_malformed_patterns(pattern: str) -> None:
    with pytest.raises(UnsupportedPattern):
        compile_pattern(pattern)
