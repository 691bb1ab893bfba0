"""Copies of user data refuse special files and stop at the size, file-count and expansion limits."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import threading
from pathlib import Path

import pytest

from modelyard.storage import ArtifactCache, ObjectStore
from modelyard.storage.errors import CopyLimitError, ForbiddenLocationError, SpecialFileError
from modelyard.storage.limits import CopyLimits
from modelyard.storage.local_policy import LocalPathPolicy
from modelyard.storage.tarballs import safe_extract

MIB = 1024 * 1024


def make_tar_bomb(path: Path, expanded_bytes: int) -> Path:
    """A .tar.gz of one file of zeros: a few KiB that expand to ``expanded_bytes``."""
    with gzip.open(path, "wb", compresslevel=9) as raw, tarfile.open(fileobj=raw, mode="w") as archive:
        info = tarfile.TarInfo("weights.bin")
        info.size = expanded_bytes
        archive.addfile(info, _Zeros(expanded_bytes))
    return path


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "server-data"
    path.mkdir()
    return path


def cache_with(data_dir: Path, limits: CopyLimits, budget: int | None = None) -> ArtifactCache:
    store = ObjectStore(policy=LocalPathPolicy(data_dir=data_dir), limits=limits)
    return ArtifactCache(data_dir / "artifacts", store, budget_bytes=budget)


def test_a_tar_bomb_is_refused_by_its_expansion_ratio_before_it_is_written(tmp_path: Path, data_dir: Path) -> None:
    bomb = make_tar_bomb(tmp_path / "model.tar.gz", 160 * MIB)
    assert bomb.stat().st_size < MIB
    cache = cache_with(data_dir, CopyLimits(tar_max_ratio=100, tar_ratio_floor_bytes=16 * MIB))
    with pytest.raises(CopyLimitError, match="tar bomb") as info:
        cache.fetch_model(bomb)
    assert str(data_dir) not in str(info.value)
    assert _bytes_below(data_dir) < 2 * MIB


def test_a_tar_bomb_is_refused_by_the_size_limit(tmp_path: Path) -> None:
    bomb = make_tar_bomb(tmp_path / "model.tar.gz", 64 * MIB)
    with pytest.raises(CopyLimitError, match="MODELYARD_COPY_MAX_BYTES"):
        safe_extract(bomb, tmp_path / "out", CopyLimits(max_bytes=8 * MIB))
    assert _bytes_below(tmp_path / "out") == 0


def test_an_archive_with_too_many_members_is_refused(tmp_path: Path) -> None:
    archive_path = tmp_path / "many.tar"
    with tarfile.open(archive_path, "w") as archive:
        for index in range(20):
            archive.addfile(tarfile.TarInfo(f"f{index}"), io.BytesIO(b""))
    with pytest.raises(CopyLimitError, match="MODELYARD_COPY_MAX_FILES"):
        safe_extract(archive_path, tmp_path / "out", CopyLimits(max_files=10))


def test_a_model_directory_holding_a_fifo_fails_fast(tmp_path: Path, data_dir: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "ok.bin").write_bytes(b"ok")
    os.mkfifo(model / "pipe")
    outcome = _run_with_deadline(lambda: cache_with(data_dir, CopyLimits()).fetch_model(model))
    assert isinstance(outcome, SpecialFileError)
    assert "'pipe' is a FIFO" in str(outcome)


def test_a_model_directory_linking_to_dev_zero_fails_fast(tmp_path: Path, data_dir: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").symlink_to("/dev/zero")
    outcome = _run_with_deadline(lambda: cache_with(data_dir, CopyLimits()).fetch_model(model))
    assert isinstance(outcome, SpecialFileError)
    assert "'weights.bin'" in str(outcome)


def test_a_link_to_dev_zero_named_as_the_object_is_refused(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "data.csv").symlink_to("/dev/zero")
    store = ObjectStore(policy=LocalPathPolicy(data_dir=data_dir))
    outcome = _run_with_deadline(lambda: store.download(tmp_path / "data.csv", tmp_path / "copy.csv"))
    assert isinstance(outcome, ForbiddenLocationError)
    assert not (tmp_path / "copy.csv").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a character device needs root")
def test_a_character_device_in_job_data_is_refused(tmp_path: Path, data_dir: Path) -> None:
    channel = tmp_path / "train"
    channel.mkdir()
    os.mknod(channel / "zero", 0o600 | stat.S_IFCHR, os.makedev(1, 5))
    store = ObjectStore(policy=LocalPathPolicy(data_dir=data_dir))
    outcome = _run_with_deadline(lambda: store.download_prefix(channel.as_uri() + "/", tmp_path / "staged"))
    assert isinstance(outcome, SpecialFileError)
    assert "character device" in str(outcome)


def test_a_fifo_in_an_output_directory_is_not_uploaded(tmp_path: Path, data_dir: Path) -> None:
    output = tmp_path / "output"
    output.mkdir()
    os.mkfifo(output / "results.csv")
    store = ObjectStore(policy=LocalPathPolicy(data_dir=data_dir))
    outcome = _run_with_deadline(lambda: store.upload_dir(output, tmp_path / "dest"))
    assert isinstance(outcome, SpecialFileError)
    assert not (tmp_path / "dest" / "results.csv").exists()


def test_an_output_link_to_a_host_file_is_not_uploaded(tmp_path: Path, data_dir: Path) -> None:
    output = tmp_path / "output"
    output.mkdir()
    (output / "stolen").symlink_to("/etc/hostname")
    store = ObjectStore(policy=LocalPathPolicy(data_dir=data_dir))
    with pytest.raises(SpecialFileError, match="leads outside"):
        store.upload_dir(output, tmp_path / "dest")


def test_job_data_stops_at_the_file_count_and_size_limits(tmp_path: Path, data_dir: Path) -> None:
    channel = tmp_path / "train"
    channel.mkdir()
    for index in range(5):
        (channel / f"part-{index}").write_bytes(b"x" * 1000)
    store = ObjectStore(policy=LocalPathPolicy(data_dir=data_dir), limits=CopyLimits(max_files=4))
    with pytest.raises(CopyLimitError, match="more than 4 files"):
        store.download_prefix(channel, tmp_path / "a")
    store = ObjectStore(policy=LocalPathPolicy(data_dir=data_dir), limits=CopyLimits(max_bytes=4500))
    with pytest.raises(CopyLimitError, match="more than 4500 bytes"):
        store.download_prefix(channel, tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_data_dir_itself_is_refused_at_once(data_dir: Path, tmp_path: Path) -> None:
    (data_dir / "modelyard.db").write_bytes(b"db")
    with pytest.raises(ForbiddenLocationError, match="the server's data directory"):
        cache_with(data_dir, CopyLimits()).fetch_model(data_dir.as_uri() + "/")
    assert not (data_dir / "artifacts" / "models").exists()


def _run_with_deadline(call, seconds: float = 60.0) -> BaseException | object:  # type: ignore[no-untyped-def]
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["result"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["result"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the copy did not stop: it is reading without end or blocked"
    return box["result"]


def _bytes_below(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file()) if root.exists() else 0
