"""The artifact cache stays within its byte budget: unleased entries go, least recently used first."""

from __future__ import annotations

import os
from pathlib import Path

from modelyard.storage import ArtifactCache, ObjectStore, pack_dir

KIB = 1024


def artifact(tmp_path: Path, name: str, size: int) -> Path:
    source = tmp_path / f"src-{name}"
    source.mkdir()
    (source / "weights.bin").write_bytes(os.urandom(size))
    return pack_dir(source, tmp_path / f"{name}.tar.gz")


def test_a_budget_smaller_than_two_artifacts_evicts_the_older_unused_one(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache", ObjectStore(), budget_bytes=150 * KIB)
    first = cache.fetch_model(artifact(tmp_path, "first", 100 * KIB))
    cache.release(first)
    second = cache.fetch_model(artifact(tmp_path, "second", 100 * KIB))
    assert not first.exists()
    assert (second / "weights.bin").stat().st_size == 100 * KIB


def test_an_entry_in_use_is_never_evicted(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache", ObjectStore(), budget_bytes=150 * KIB)
    running = cache.fetch_model(artifact(tmp_path, "running", 100 * KIB))
    other = cache.fetch_model(artifact(tmp_path, "other", 100 * KIB))
    assert (running / "weights.bin").stat().st_size == 100 * KIB
    assert cache.in_use(running)
    cache.release(other)
    third = cache.fetch_model(artifact(tmp_path, "third", 100 * KIB))
    assert (running / "weights.bin").is_file()
    assert not other.exists()
    assert third.is_dir()


def test_the_least_recently_used_entry_goes_first(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache", ObjectStore(), budget_bytes=250 * KIB)
    old_uri, recent_uri = artifact(tmp_path, "old", 100 * KIB), artifact(tmp_path, "recent", 100 * KIB)
    old = cache.fetch_model(old_uri)
    recent = cache.fetch_model(recent_uri)
    os.utime(old, ns=(1, 1))
    os.utime(recent, ns=(2, 2))
    cache.release(cache.fetch_model(old_uri))
    cache.release(old)
    cache.release(recent)
    cache.release(cache.fetch_model(artifact(tmp_path, "new", 100 * KIB)))
    assert old.is_dir()
    assert not recent.exists()


def test_a_refetch_after_eviction_unpacks_again(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache", ObjectStore(), budget_bytes=150 * KIB)
    uri = artifact(tmp_path, "a", 100 * KIB)
    first = cache.fetch_model(uri)
    cache.release(first)
    cache.release(cache.fetch_model(artifact(tmp_path, "b", 100 * KIB)))
    again = cache.fetch_model(uri)
    assert (again / "weights.bin").stat().st_size == 100 * KIB


def test_a_model_directory_is_copied_with_its_empty_directories(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "code").mkdir(parents=True)
    (model / "empty" / "deeper").mkdir(parents=True)
    (model / "code" / "inference.py").write_text("x = 1\n")
    entry = ArtifactCache(tmp_path / "cache", ObjectStore()).fetch_model(model)
    assert (entry / "code" / "inference.py").read_text() == "x = 1\n"
    assert (entry / "empty" / "deeper").is_dir()
