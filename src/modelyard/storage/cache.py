"""A local cache of model artifacts and files, keyed by URI and the object's version.

    fetch_model("s3://b/m/model.tar.gz")
        key = sha256(uri, etag, size) ──► <root>/models/<key>/   (exists? reuse)
        else: lock <root>/locks/<key>.lock
              download ──► <root>/tmp/<rand>/  extract ──► rename into place

A cache entry appears only by an atomic rename of a complete directory, so readers never see
a half-extracted model; an ``fcntl`` lock per key lets one caller (thread or process) fill an
entry while the others wait and then reuse it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from modelyard.storage.errors import ArtifactNotFoundError, InvalidArchiveError
from modelyard.storage.localfs import local_etag
from modelyard.storage.objects import ObjectStore, UriLike
from modelyard.storage.tarballs import safe_extract
from modelyard.storage.uris import Location

_Filler = Callable[[Location, Path, Path], None]


class ArtifactCache:
    """Downloads and unpacks artifacts once per (URI, version) under ``root``."""

    def __init__(self, root: Path, store: ObjectStore | None = None) -> None:
        self.root = Path(root)
        self.store = store or ObjectStore()

    def fetch_model(self, uri: UriLike) -> Path:
        """A directory holding the model at ``uri``, ready to mount as ``/opt/ml/model``.

        A file (``model.tar.gz`` or ``.tar``) is extracted safely, a local directory is copied,
        and an S3 URI ending in ``/`` has every object below it downloaded.
        """
        loc = self.store.location(uri)
        fingerprint = self._fingerprint(loc)
        return self._materialize("models", loc, fingerprint, self._fill_model)

    def fetch_file(self, uri: UriLike) -> Path:
        """A local copy of the single object at ``uri`` (same file name), reused while unchanged."""
        loc = self.store.location(uri)
        info = self.store.stat(loc)
        entry = self._materialize("files", loc, f"file:{info.etag}:{info.size}", self._fill_file)
        return entry / (loc.name or "object")

    def _fingerprint(self, loc: Location) -> str:
        if not loc.is_s3 and loc.local_path.is_dir():
            return "dir:" + _tree_fingerprint(loc.local_path)
        if loc.is_prefix:
            infos = self.store.list(loc)
            if not infos:
                raise ArtifactNotFoundError(f"no objects found under {loc.uri}", uri=loc.uri,
                                            code="NoSuchKey")
            listing = "\n".join(f"{i.key}\t{i.etag}\t{i.size}" for i in infos)
            return "prefix:" + hashlib.sha256(listing.encode()).hexdigest()
        info = self.store.stat(loc)
        return f"object:{info.etag}:{info.size}"

    def _materialize(self, kind: str, loc: Location, fingerprint: str, fill: _Filler) -> Path:
        key = hashlib.sha256(f"{loc.uri}\0{fingerprint}".encode()).hexdigest()[:40]
        final = self.root / kind / key
        if final.is_dir():
            return final
        with self._locked(key):
            if final.is_dir():
                return final
            final.parent.mkdir(parents=True, exist_ok=True)
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=f"{key[:12]}-", dir=self.root / "tmp"))
            try:
                staged = work / "entry"
                staged.mkdir()
                fill(loc, staged, work)
                os.rename(staged, final)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        return final

    def _fill_model(self, loc: Location, staged: Path, work: Path) -> None:
        if not loc.is_s3 and loc.local_path.is_dir():
            shutil.copytree(loc.local_path, staged, symlinks=True, dirs_exist_ok=True)
            return
        if loc.is_prefix:
            self.store.download_prefix(loc, staged)
            return
        archive = self.store.download(loc, work / "artifact")
        if not tarfile.is_tarfile(archive):
            raise InvalidArchiveError(
                f"{loc.uri} is not a .tar or .tar.gz archive; model data must be a tarball, a "
                "directory, or an S3 prefix ending in '/'", uri=loc.uri,
            )
        safe_extract(archive, staged)

    def _fill_file(self, loc: Location, staged: Path, work: Path) -> None:
        self.store.download(loc, staged / (loc.name or "object"))

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        lock_dir = self.root / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / f"{key}.lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _tree_fingerprint(root: Path) -> str:
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath, name)
            stat = path.lstat()
            digest.update(f"{path.relative_to(root).as_posix()}\t{local_etag(stat)}\n".encode())
    return digest.hexdigest()
