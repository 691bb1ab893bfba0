"""ObjectStore on local paths and file:// URIs, with real temp dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelyard.storage import ArtifactNotFoundError, ObjectStore, StorageError


@pytest.fixture()
def local() -> ObjectStore:
    return ObjectStore()


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("form", ["path", "file-uri", "relative"])
def test_write_and_read(local: ObjectStore, tmp_path: Path, form: str,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "new dir" / "x.bin"
    monkeypatch.chdir(tmp_path)
    uri = {"path": str(target), "file-uri": target.as_uri(), "relative": "new dir/x.bin"}[form]
    local.write_bytes(uri, b"abc")
    assert target.read_bytes() == b"abc"
    assert local.read_bytes(uri) == b"abc"
    local.write_bytes(uri, b"replaced")
    assert local.read_bytes(uri) == b"replaced"
    assert sorted(os.listdir(target.parent)) == ["x.bin"], "no temporary files are left behind"


def test_base_dir_resolves_relative_paths(tmp_path: Path) -> None:
    store = ObjectStore(base_dir=tmp_path)
    store.write_bytes("a/b.txt", b"1")
    assert (tmp_path / "a/b.txt").read_bytes() == b"1"


def test_failed_write_keeps_the_old_file(local: ObjectStore, tmp_path: Path) -> None:
    target = tmp_path / "x.bin"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        local.write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["x.bin"]


def test_list_stat_exists(local: ObjectStore, tmp_path: Path) -> None:
    (tmp_path / "d/sub").mkdir(parents=True)
    (tmp_path / "d/b.txt").write_bytes(b"bb")
    (tmp_path / "d/a.txt").write_bytes(b"a")
    (tmp_path / "d/sub/c.txt").write_bytes(b"ccc")
    infos = local.list(tmp_path / "d")
    assert [i.relative for i in infos] == ["a.txt", "b.txt", "sub/c.txt"]
    assert [i.size for i in infos] == [1, 2, 3]
    assert infos[0].uri == (tmp_path / "d/a.txt").as_uri()
    assert infos[0].key == (tmp_path / "d/a.txt").as_posix().lstrip("/")
    assert [i.relative for i in local.list(tmp_path / "d/a.txt")] == ["a.txt"]
    assert local.list(tmp_path / "missing") == []
    stat = local.stat(tmp_path / "d/b.txt")
    assert stat.size == 2 and stat.etag
    assert local.exists(tmp_path / "d") and local.exists(tmp_path / "d/a.txt")
    assert not local.exists(tmp_path / "nope")


def test_etag_changes_when_the_file_changes(local: ObjectStore, tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"1")
    before = local.stat(path).etag
    path.write_bytes(b"22")
    assert local.stat(path).etag != before


@pytest.mark.parametrize("operation", ["read_bytes", "stat", "download", "download_prefix"])
def test_missing_path_names_the_uri(local: ObjectStore, tmp_path: Path, operation: str) -> None:
    missing = tmp_path / "nope" / "model.tar.gz"
    args = (missing, tmp_path / "out") if operation.startswith("download") else (missing,)
    with pytest.raises(ArtifactNotFoundError) as info:
        getattr(local, operation)(*args)
    assert str(missing) in str(info.value)


def test_reading_a_directory_is_a_storage_error(local: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(StorageError) as info:
        local.read_bytes(tmp_path)
    assert not isinstance(info.value, ArtifactNotFoundError)
    assert info.value.code == "EISDIR"


def test_other_os_errors_carry_the_errno_name(local: ObjectStore, tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"x")
    with pytest.raises(StorageError) as info:
        local.write_bytes(tmp_path / "plain" / "below", b"y")
    assert not isinstance(info.value, ArtifactNotFoundError)
    assert info.value.code in ("ENOTDIR", "EEXIST")
    assert str(tmp_path / "plain" / "below") in str(info.value)


def test_download_prefix_copies_a_tree(local: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "code").mkdir(parents=True)
    (src / "model.pth").write_bytes(b"w")
    (src / "code/inference.py").write_bytes(b"print(1)")
    written = local.download_prefix(src, tmp_path / "out")
    assert written == [tmp_path / "out/code/inference.py", tmp_path / "out/model.pth"]
    assert _tree(tmp_path / "out") == _tree(src)


def test_download_prefix_of_a_plain_file(local: ObjectStore, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_bytes(b"1,2\n")
    assert local.download_prefix(tmp_path / "data.csv", tmp_path / "out") == [tmp_path / "out/data.csv"]
    assert (tmp_path / "out/data.csv").read_bytes() == b"1,2\n"


def test_download_a_directory_is_refused(local: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="is a directory"):
        local.download(tmp_path, tmp_path / "x")


def test_upload_file_and_dir(local: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "a/b").mkdir(parents=True)
    (src / "a/b/c.txt").write_bytes(b"c")
    (src / "top.txt").write_bytes(b"t")
    uris = local.upload_dir(src, tmp_path / "dest")
    assert uris == [(tmp_path / "dest/a/b/c.txt").as_uri(), (tmp_path / "dest/top.txt").as_uri()]
    assert _tree(tmp_path / "dest") == _tree(src)
    local.upload_file(src / "top.txt", (tmp_path / "single/copy.txt").as_uri())
    assert (tmp_path / "single/copy.txt").read_bytes() == b"t"


def test_upload_missing_dir(local: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFoundError, match="local directory"):
        local.upload_dir(tmp_path / "missing", tmp_path / "dest")


def test_mixed_local_to_s3_is_dispatched_by_scheme(tmp_path: Path, store: ObjectStore, bucket: str) -> None:
    src = tmp_path / "f.txt"
    src.write_bytes(b"mixed")
    store.upload_file(src, f"s3://{bucket}/f.txt")
    store.download(f"s3://{bucket}/f.txt", tmp_path / "back.txt")
    store.upload_file(tmp_path / "back.txt", tmp_path / "again.txt")
    assert (tmp_path / "again.txt").read_bytes() == b"mixed"
