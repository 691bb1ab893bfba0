"""GetLogEvents semantics: tokens, directions, time ranges, partial lines, big files."""

from __future__ import annotations

import io
from typing import Any

import pytest

import modelyard.logstore.store as store_module
from modelyard.logstore import InvalidToken, LogStore, StreamNotFound
from modelyard.logstore.lines import CHUNK

G, S = "/aws/sagemaker/TrainingJobs", "job/algo-1-1700000000"


@pytest.fixture()
def store(tmp_path) -> LogStore:  # type: ignore[no-untyped-def]
    store = LogStore(tmp_path)
    with store.writer(G, S) as out:
        out.write_events([(1000 + i, f"m{i}") for i in range(100)])
    return store


def texts(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.message for e in page.events]


def test_default_reads_the_newest_events_oldest_first(store: LogStore) -> None:
    page = store.read(G, S, limit=5)
    assert texts(page) == ["m95", "m96", "m97", "m98", "m99"]


def test_from_head_then_forward_until_the_token_repeats(store: LogStore) -> None:
    seen: list[str] = []
    token = None
    calls = 0
    while True:
        page = store.read(G, S, start_from_head=True, limit=30, token=token)
        calls += 1
        seen += texts(page)
        if page.forward_token == token:
            break
        token = page.forward_token
    assert seen == [f"m{i}" for i in range(100)]
    assert calls == 5
    with store.writer(G, S) as out:
        out.write_line("late", 5000)
    assert texts(store.read(G, S, start_from_head=True, token=token)) == ["late"]


def test_backward_paging_walks_to_the_start(store: LogStore) -> None:
    pages = []
    page = store.read(G, S, limit=30)
    while page.events:
        pages.append(texts(page))
        token = page.backward_token
        page = store.read(G, S, limit=30, token=token)
        if not page.events:
            assert page.backward_token == token
    assert [len(p) for p in pages] == [30, 30, 30, 10]
    assert [m for p in reversed(pages) for m in p] == [f"m{i}" for i in range(100)]


def test_tokens_of_a_page_point_around_it(store: LogStore) -> None:
    middle = store.read(G, S, start_from_head=True, limit=10, token=store.read(G, S, start_from_head=True,
                                                                                limit=40).forward_token)
    assert texts(middle) == [f"m{i}" for i in range(40, 50)]
    before = store.read(G, S, limit=5, token=middle.backward_token)
    assert texts(before) == [f"m{i}" for i in range(35, 40)]
    after = store.read(G, S, limit=5, token=middle.forward_token)
    assert texts(after) == [f"m{i}" for i in range(50, 55)]


def test_time_range_is_start_inclusive_end_exclusive(store: LogStore) -> None:
    head = store.read(G, S, start_time=1010, end_time=1015, start_from_head=True)
    assert texts(head) == ["m10", "m11", "m12", "m13", "m14"]
    tail = store.read(G, S, start_time=1010, end_time=1015, limit=2)
    assert texts(tail) == ["m13", "m14"]
    assert texts(store.read(G, S, limit=3, token=tail.backward_token, start_time=1010, end_time=1015)) == [
        "m10", "m11", "m12"]
    follow = store.read(G, S, start_time=1010, end_time=1015, token=head.forward_token, start_from_head=True)
    assert follow.events == [] and follow.forward_token == head.forward_token
    assert store.read(G, S, start_time=5000, start_from_head=True).events == []


def test_empty_stream_keeps_returning_its_token(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LogStore(tmp_path)
    store.create_group("g")
    store.create_stream("g", "s")
    first = store.read("g", "s", start_from_head=True)
    assert first.events == []
    again = store.read("g", "s", start_from_head=True, token=first.forward_token)
    assert again.forward_token == first.forward_token
    assert store.read("g", "s").events == []


def test_a_partly_written_line_is_invisible_until_complete(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LogStore(tmp_path)
    with store.writer("g", "s") as out:
        out.write_line("whole", 1)
    path = store.root / "g" / "s.log"
    with open(path, "ab") as f:
        f.write(b'[2,2,"hal')
    page = store.read("g", "s", start_from_head=True)
    assert texts(page) == ["whole"]
    assert texts(store.read("g", "s")) == ["whole"]
    assert store.stream_info("g", "s").last_event_timestamp == 1
    with open(path, "ab") as f:
        f.write(b'f"]\n')
    assert texts(store.read("g", "s", start_from_head=True, token=page.forward_token)) == ["half"]


@pytest.mark.parametrize("token", ["x/1", "f/abc", "f/", "f/3", "b/99999999", "", "F1.e30="])
def test_foreign_tokens_are_refused(store: LogStore, token: str) -> None:
    with pytest.raises(InvalidToken):
        store.read(G, S, token=token)


def test_missing_stream(store: LogStore) -> None:
    with pytest.raises(StreamNotFound):
        store.read(G, "nope")


def test_pages_stay_under_one_megabyte(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LogStore(tmp_path)
    with store.writer("g", "s") as out:
        out.write_events([(i, "z" * 100_000) for i in range(30)])
    page = store.read("g", "s", start_from_head=True)
    assert 0 < len(page.events) < 30
    assert sum(len(e.message) + 26 for e in page.events) <= 1_048_576


class _CountingFile(io.FileIO):
    """A raw file that adds every byte it reads to ``total``."""

    total = 0

    def readinto(self, buffer: Any) -> int | None:
        count = super().readinto(buffer)
        _CountingFile.total += count or 0
        return count


def _counting_open(path: str, mode: str = "r") -> io.BufferedReader:
    assert mode == "rb"
    return io.BufferedReader(_CountingFile(path, "r"))


def test_paging_a_100k_line_file_reads_each_byte_about_once(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store = LogStore(tmp_path)
    with store.writer("g", "s") as out:
        for block in range(10):
            out.write_events([(1_000_000 + block * 10_000 + i, f"line {block * 10_000 + i} " + "p" * 40)
                              for i in range(10_000)])
    size = sum(path.stat().st_size for path in tmp_path.rglob("*.log"))
    assert size > 100 * CHUNK
    monkeypatch.setattr(store_module, "open", _counting_open, raising=False)
    count, token, pages = 0, None, 0
    while True:
        page = store.read("g", "s", start_from_head=True, limit=1000, token=token)
        pages += 1
        count += len(page.events)
        if page.forward_token == token:
            break
        token = page.forward_token
    assert count == 100_000 and pages == 101
    assert _CountingFile.total <= size + pages * 2 * CHUNK, "pages reread the file from its start"
    deep = store.read("g", "s", start_time=1_099_990, start_from_head=True, limit=5)
    assert [e.timestamp for e in deep.events] == list(range(1_099_990, 1_099_995))
    newest = store.read("g", "s", end_time=1_000_005, limit=2)
    assert [e.timestamp for e in newest.events] == [1_000_003, 1_000_004]
    for _ in range(3):
        _CountingFile.total = 0
        window = store.read("g", "s", start_time=1_050_000, end_time=1_050_010, start_from_head=True)
        assert [e.timestamp for e in window.events] == list(range(1_050_000, 1_050_010))
        assert _CountingFile.total <= 8 * CHUNK, "time seeks reread the file"
