"""Groups and streams: create, describe, delete."""

from __future__ import annotations

import threading

import pytest

from modelyard.logstore import GroupExists, GroupNotFound, LogStore, StreamExists, StreamNotFound


@pytest.fixture()
def store(tmp_path) -> LogStore:  # type: ignore[no-untyped-def]
    return LogStore(tmp_path / "logs")


def test_groups_are_created_once_and_listed_by_prefix(store: LogStore) -> None:
    store.create_group("/aws/sagemaker/Endpoints/b")
    store.create_group("/aws/sagemaker/Endpoints/a")
    store.create_group("/aws/sagemaker/TrainingJobs")
    with pytest.raises(GroupExists):
        store.create_group("/aws/sagemaker/Endpoints/a")
    store.create_group("/aws/sagemaker/Endpoints/a", exist_ok=True)
    assert [g.name for g in store.groups()] == [
        "/aws/sagemaker/Endpoints/a", "/aws/sagemaker/Endpoints/b", "/aws/sagemaker/TrainingJobs"]
    assert [g.name for g in store.groups("/aws/sagemaker/Endpoints/")] == [
        "/aws/sagemaker/Endpoints/a", "/aws/sagemaker/Endpoints/b"]
    assert store.groups("/nothing") == []


def test_missing_root_has_no_groups(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert LogStore(tmp_path / "absent").groups() == []


def test_streams_need_their_group_and_are_unique(store: LogStore) -> None:
    with pytest.raises(GroupNotFound):
        store.create_stream("g", "s")
    store.create_group("g")
    store.create_stream("g", "s")
    with pytest.raises(StreamExists):
        store.create_stream("g", "s")
    with pytest.raises(StreamNotFound):
        store.stream_info("g", "other")
    with pytest.raises(GroupNotFound):
        store.stream_info("nope", "s")
    with pytest.raises(GroupNotFound):
        store.streams("nope")


def test_stream_info_tracks_events(store: LogStore) -> None:
    store.create_group("g")
    store.create_stream("g", "empty")
    empty = store.stream_info("g", "empty")
    assert (empty.first_event_timestamp, empty.last_event_timestamp, empty.stored_bytes) == (None, None, 0)
    assert empty.creation_time > 0
    with store.writer("g", "job/algo-1") as out:
        out.write_events([(100, "a"), (200, "b"), (300, "c")])
    info = store.stream_info("g", "job/algo-1")
    assert (info.first_event_timestamp, info.last_event_timestamp) == (100, 300)
    assert info.last_ingestion_time is not None and info.last_ingestion_time >= info.creation_time
    assert info.stored_bytes == (store.root / "g" / "job%2Falgo-1.log").stat().st_size > 0
    assert [s.name for s in store.streams("g", "job/")] == ["job/algo-1"]
    assert store.group_info("g").stored_bytes == info.stored_bytes


def test_delete_group_and_stream(store: LogStore) -> None:
    with store.writer("g", "s1") as out:
        out.write_line("x")
    store.create_stream("g", "s2")
    store.delete_stream("g", "s1")
    assert [s.name for s in store.streams("g")] == ["s2"]
    with pytest.raises(StreamNotFound):
        store.delete_stream("g", "s1")
    store.delete_group("g")
    assert not store.group_exists("g") and store.groups() == []
    with pytest.raises(GroupNotFound):
        store.delete_group("g")
    with pytest.raises(GroupNotFound):
        store.delete_stream("g", "s2")
    assert [p.name for p in store.root.iterdir()] == []


def test_append_requires_existing_stream(store: LogStore) -> None:
    with pytest.raises(GroupNotFound):
        store.append("g", "s", [(1, "x")])
    store.create_group("g")
    with pytest.raises(StreamNotFound):
        store.append("g", "s", [(1, "x")])


def test_concurrent_creation_reports_exactly_one_winner(store: LogStore) -> None:
    outcomes: list[str] = []

    def create() -> None:
        try:
            store.create_group("race")
            outcomes.append("created")
        except GroupExists:
            outcomes.append("exists")

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created"] + ["exists"] * 7


def test_tail_returns_last_messages(store: LogStore) -> None:
    with store.writer("g", "s") as out:
        for i in range(50):
            out.write_line(f"m{i}", i)
    assert store.tail("g", "s", 3) == ["m47", "m48", "m49"]
    assert store.tail("g", "s", 100)[0] == "m0"
