"""ArtifactCache: S3 tarballs, prefixes, local dirs; reuse, invalidation and concurrent callers."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from modelyard.storage import (
    ArtifactCache,
    ArtifactNotFoundError,
    InvalidArchiveError,
    ObjectStore,
    UnsafeArchiveError,
    pack_dir,
)


class CountingStore(ObjectStore):
    """A real ObjectStore that counts downloads (and can slow them, to widen races)."""

    def __init__(self, delay: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.downloads = 0
        self.delay = delay
        self._count_lock = threading.Lock()

    def download(self, uri: Any, dest: Path) -> Path:
        with self._count_lock:
            self.downloads += 1
        time.sleep(self.delay)
        return super().download(uri, dest)


def _model_tar(tmp_path: Path, marker: str) -> Path:
    src = tmp_path / f"src-{marker}"
    (src / "code").mkdir(parents=True)
    (src / "model.pth").write_text(marker)
    (src / "code/inference.py").write_text("def model_fn(d): pass\n")
    return pack_dir(src, tmp_path / f"{marker}.tar.gz")


@pytest.fixture()
def counting(moto_s3: Any) -> CountingStore:
    return CountingStore(endpoint_url=moto_s3.endpoint_url)


def test_fetch_model_from_s3_is_reused_until_it_changes(counting: CountingStore, bucket: str,
                                                        tmp_path: Path) -> None:
    uri = f"s3://{bucket}/m/model.tar.gz"
    counting.upload_file(_model_tar(tmp_path, "v1"), uri)
    cache = ArtifactCache(tmp_path / "cache", counting)
    first = cache.fetch_model(uri)
    assert (first / "model.pth").read_text() == "v1"
    assert (first / "code/inference.py").is_file()
    assert cache.fetch_model(uri) == first
    assert counting.downloads == 1

    counting.upload_file(_model_tar(tmp_path, "v2"), uri)
    second = cache.fetch_model(uri)
    assert second != first
    assert (second / "model.pth").read_text() == "v2"
    assert counting.downloads == 2
    assert list((tmp_path / "cache/tmp").iterdir()) == [], "work dirs are cleaned up"


def test_fetch_model_from_s3_prefix(store: ObjectStore, bucket: str, tmp_path: Path) -> None:
    store.write_bytes(f"s3://{bucket}/raw/model.pth", b"w")
    store.write_bytes(f"s3://{bucket}/raw/code/inference.py", b"pass")
    path = ArtifactCache(tmp_path / "cache", store).fetch_model(f"s3://{bucket}/raw/")
    assert (path / "model.pth").read_bytes() == b"w"
    assert (path / "code/inference.py").read_bytes() == b"pass"


def test_fetch_model_from_local_tarball_and_dir(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache")
    tar = _model_tar(tmp_path, "local")
    from_tar = cache.fetch_model(tar)
    assert (from_tar / "model.pth").read_text() == "local"
    from_dir = cache.fetch_model(tmp_path / "src-local")
    assert (from_dir / "model.pth").read_text() == "local"
    assert from_dir != from_tar
    assert cache.fetch_model(tmp_path / "src-local") == from_dir
    (tmp_path / "src-local/model.pth").write_text("edited!")
    edited = cache.fetch_model(tmp_path / "src-local")
    assert edited != from_dir and (edited / "model.pth").read_text() == "edited!"
    assert (from_dir / "model.pth").read_text() == "local", "an existing entry is never modified"


def test_fetch_model_missing(store: ObjectStore, bucket: str, tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache", store)
    with pytest.raises(ArtifactNotFoundError, match=f"s3://{bucket}/nope/model.tar.gz"):
        cache.fetch_model(f"s3://{bucket}/nope/model.tar.gz")
    with pytest.raises(ArtifactNotFoundError, match=f"no objects found under s3://{bucket}/empty/"):
        cache.fetch_model(f"s3://{bucket}/empty/")
    with pytest.raises(ArtifactNotFoundError):
        cache.fetch_model(tmp_path / "missing.tar.gz")


def test_fetch_model_refuses_non_archives_and_unsafe_archives(store: ObjectStore, bucket: str,
                                                              tmp_path: Path) -> None:
    import io
    import tarfile

    cache = ArtifactCache(tmp_path / "cache", store)
    store.write_bytes(f"s3://{bucket}/model.joblib", b"not a tar")
    with pytest.raises(InvalidArchiveError, match="is not a .tar or .tar.gz archive"):
        cache.fetch_model(f"s3://{bucket}/model.joblib")

    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w:gz") as archive:
        info = tarfile.TarInfo("../../escape")
        archive.addfile(info, io.BytesIO(b""))
    store.write_bytes(f"s3://{bucket}/evil.tar.gz", evil.getvalue())
    with pytest.raises(UnsafeArchiveError):
        cache.fetch_model(f"s3://{bucket}/evil.tar.gz")
    assert not (tmp_path / "escape").exists()
    assert list((tmp_path / "cache/models").iterdir()) == [], "failed fills leave no entry"


def test_concurrent_callers_download_once(moto_s3: Any, bucket: str, tmp_path: Path) -> None:
    store = CountingStore(delay=0.3, endpoint_url=moto_s3.endpoint_url)
    uri = f"s3://{bucket}/m/model.tar.gz"
    store.upload_file(_model_tar(tmp_path, "shared"), uri)
    cache = ArtifactCache(tmp_path / "cache", store)
    results: list[Path] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(cache.fetch_model(uri))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1 and len(results) == 6
    assert store.downloads == 1
    assert (results[0] / "model.pth").read_text() == "shared"


def test_concurrent_processes_share_one_entry(moto_s3: Any, bucket: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    uri = f"s3://{bucket}/m/model.tar.gz"
    ObjectStore(endpoint_url=moto_s3.endpoint_url).upload_file(_model_tar(tmp_path, "proc"), uri)
    script = (
        "import sys\n"
        "from modelyard.storage import ArtifactCache, ObjectStore\n"
        "store = ObjectStore(endpoint_url=sys.argv[1])\n"
        "print(ArtifactCache(sys.argv[2], store).fetch_model(sys.argv[3]))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, moto_s3.endpoint_url, str(tmp_path / "cache"), uri],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], outputs
    paths = {out.strip() for out, _ in outputs}
    assert len(paths) == 1
    assert len(list((tmp_path / "cache/models").iterdir())) == 1


def test_fetch_file(counting: CountingStore, bucket: str, tmp_path: Path) -> None:
    uri = f"s3://{bucket}/scripts/train.py"
    counting.write_bytes(uri, b"print('v1')")
    cache = ArtifactCache(tmp_path / "cache", counting)
    path = cache.fetch_file(uri)
    assert path.name == "train.py" and path.read_bytes() == b"print('v1')"
    assert cache.fetch_file(uri) == path and counting.downloads == 1
    counting.write_bytes(uri, b"print('v2!')")
    newer = cache.fetch_file(uri)
    assert newer != path and newer.read_bytes() == b"print('v2!')"
    with pytest.raises(ArtifactNotFoundError):
        cache.fetch_file(f"s3://{bucket}/scripts/none.py")
    local = tmp_path / "local.txt"
    local.write_text("here")
    assert cache.fetch_file(local).read_text() == "here"
