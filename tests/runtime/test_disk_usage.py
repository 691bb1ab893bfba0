"""The disk walk: what it counts, where it stops, and what it never follows."""

from __future__ import annotations

import os
from pathlib import Path

from modelyard.runtime.disk_usage import MAX_DEPTH, measure


def test_counts_allocated_blocks_and_every_entry(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 100_000)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b").write_bytes(b"y" * 50_000)
    with open(tmp_path / "sparse", "wb") as handle:
        handle.truncate(1 << 30)
    usage = measure([tmp_path], max_bytes=None, max_files=None)
    assert usage.files == 4 and not usage.over
    assert 150_000 <= usage.bytes < 1 << 20, "a sparse file counts what it holds, not its size"


def test_a_hard_linked_file_counts_once(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 200_000)
    for n in range(5):
        os.link(tmp_path / "a", tmp_path / f"link{n}")
    usage = measure([tmp_path], max_bytes=None, max_files=None)
    assert usage.bytes < 400_000


def test_links_out_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big").write_bytes(b"z" * 1_000_000)
    root = tmp_path / "root"
    root.mkdir()
    (root / "escape").symlink_to(outside)
    usage = measure([root], max_bytes=500_000, max_files=None)
    assert not usage.over and usage.files == 1


def test_stops_at_either_budget(tmp_path: Path) -> None:
    for n in range(50):
        (tmp_path / f"f{n}").write_bytes(b"x" * 10_000)
    by_files = measure([tmp_path], max_bytes=None, max_files=10)
    assert by_files.over and by_files.files == 11
    by_bytes = measure([tmp_path], max_bytes=100_000, max_files=None)
    assert by_bytes.over and by_bytes.bytes > 100_000 and by_bytes.files < 50


def test_a_tree_deeper_than_the_walk_follows_is_over(tmp_path: Path) -> None:
    deep = tmp_path
    for _ in range(MAX_DEPTH + 2):
        deep = deep / "d"
    deep.mkdir(parents=True)
    usage = measure([tmp_path], max_bytes=None, max_files=None)
    assert usage.over and usage.too_deep


def test_missing_roots_count_nothing(tmp_path: Path) -> None:
    assert measure([tmp_path / "gone"], max_bytes=1, max_files=1).files == 0
