"""A local cache of model artifacts and files, keyed by URI and the object's version.

    fetch_model("s3://b/m/model.tar.gz")
        key = sha256(uri, etag, size) ──► <root>/models/<key>/   (exists? reuse)
        else: lock <root>/locks/<key>.lock
              download ──► <root>/tmp/<rand>/  extract ──► rename into place

A cache entry appears only by an atomic rename of a complete directory, so readers never see
a half-extracted model; an ``fcntl`` lock per key lets one caller (thread or process) fill an
entry while the others wait and then reuse it.

The cache is bounded: every fetch leases its entry (``release`` gives the lease back) and marks it
used; after a new entry is filled, entries nobody leases are evicted, least recently used first,
until the cache fits ``budget_bytes``. A leased entry is never evicted, so a running instance or job
keeps its files. Copies refuse special files and stop at the object store's copy limits.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from modelyard.storage.errors import ArtifactNotFoundError, CopyLimitError, InvalidArchiveError
from modelyard.storage.limits import CopyBudget
from modelyard.storage.localfs import local_etag
from modelyard.storage.objects import ObjectStore, UriLike
from modelyard.storage.tarballs import safe_extract
from modelyard.storage.uris import Location
from modelyard.storage.walk import copy_regular_file, walk_regular_files

KINDS = ("models", "files")

_Filler = Callable[[Location, Path, Path], None]


class ArtifactCache:
    """Downloads and unpacks artifacts once per (URI, version) under ``root``."""

    def __init__(self, root: Path, store: ObjectStore | None = None, budget_bytes: int | None = None) -> None:
        self.root = Path(root)
        self.store = store or ObjectStore()
        self.budget_bytes = budget_bytes
        self._leases: dict[Path, int] = {}
        self._sizes: dict[Path, int] = {}
        self._lock = threading.Lock()

    def fetch_model(self, uri: UriLike) -> Path:
        """A directory holding the model at ``uri``, ready to mount as ``/opt/ml/model``.

        A file (``model.tar.gz`` or ``.tar``) is extracted safely, a local directory is copied,
        and an S3 URI ending in ``/`` has every object below it downloaded. The entry stays leased
        (never evicted) until :meth:`release` is called with the returned path.
        """
        loc = self.store.checked(uri)
        fingerprint = self._fingerprint(loc)
        return self._materialize("models", loc, fingerprint, self._fill_model)

    def fetch_file(self, uri: UriLike) -> Path:
        """A local copy of the single object at ``uri`` (same file name), reused while unchanged; leased."""
        loc = self.store.checked(uri)
        info = self.store.stat(loc)
        entry = self._materialize("files", loc, f"file:{info.etag}:{info.size}", self._fill_file)
        return entry / (loc.name or "object")

    def fingerprint(self, uri: UriLike) -> str:
        """What identifies the current content at ``uri`` (ETag and size, a listing's digest, a tree's
        sizes and times): a fetch after it changes fills a new entry."""
        return self._fingerprint(self.store.checked(uri))

    def _fingerprint(self, loc: Location) -> str:
        if not loc.is_s3 and loc.local_path.is_dir():
            return "dir:" + _tree_fingerprint(loc.local_path, self.store.limits.budget(loc.uri), loc.uri)
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
        filled = False
        while not self._lease_existing(final):
            with self._locked(key):
                if not final.is_dir():
                    self._fill(key, loc, final, fill)
                    filled = True
        if filled:
            self.evict()
        return final

    def _fill(self, key: str, loc: Location, final: Path, fill: _Filler) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{key[:12]}-", dir=self.root / "tmp"))
        try:
            staged = work / "entry"
            staged.mkdir()
            fill(loc, staged, work)
            size = _tree_size(staged)
            os.rename(staged, final)
            with self._lock:
                self._sizes[final] = size
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _lease_existing(self, entry: Path) -> bool:
        with self._lock:
            if not entry.is_dir():
                return False
            self._leases[entry] = self._leases.get(entry, 0) + 1
            os.utime(entry)
            return True

    def release(self, path: Path) -> None:
        """Give back the lease taken by the fetch that returned ``path`` (an entry or a file in one)."""
        entry = self._entry_of(Path(path))
        with self._lock:
            count = self._leases.get(entry, 0) - 1
            if count > 0:
                self._leases[entry] = count
            else:
                self._leases.pop(entry, None)

    def in_use(self, path: Path) -> bool:
        """True while a fetch of the entry holding ``path`` has not been released."""
        with self._lock:
            return self._leases.get(self._entry_of(Path(path)), 0) > 0

    def evict(self) -> list[Path]:
        """Remove unleased entries, least recently used first, until the cache fits its budget."""
        if self.budget_bytes is None:
            return []
        victims: list[Path] = []
        with self._lock:
            entries = self._entries()
            total = sum(size for _, size, _ in entries)
            for entry, size, _ in sorted(entries, key=lambda item: item[2]):
                if total <= self.budget_bytes:
                    break
                if self._leases.get(entry):
                    continue
                victims.append(self._withdraw(entry))
                total -= size
        for victim in victims:
            shutil.rmtree(victim, ignore_errors=True)
        return victims

    def _entries(self) -> list[tuple[Path, int, int]]:
        entries = []
        for kind in KINDS:
            directory = self.root / kind
            if not directory.is_dir():
                continue
            for entry in directory.iterdir():
                if entry.is_dir():
                    size = self._sizes.get(entry)
                    if size is None:
                        size = self._sizes[entry] = _tree_size(entry)
                    entries.append((entry, size, entry.stat().st_mtime_ns))
        return entries

    def _withdraw(self, entry: Path) -> Path:
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        doomed = Path(tempfile.mkdtemp(prefix="evicted-", dir=self.root / "tmp")) / "entry"
        os.rename(entry, doomed)
        self._sizes.pop(entry, None)
        return doomed.parent

    def _entry_of(self, path: Path) -> Path:
        for kind in KINDS:
            base = self.root / kind
            if base in path.parents:
                return base / path.relative_to(base).parts[0]
        return path

    def _fill_model(self, loc: Location, staged: Path, work: Path) -> None:
        if not loc.is_s3 and loc.local_path.is_dir():
            _copy_tree(loc.local_path, staged, self.store, loc.uri)
            return
        if loc.is_prefix:
            self.store.download_prefix(loc, staged)
            return
        size = self.store.stat(loc).size
        if size > self.store.limits.max_bytes:
            raise CopyLimitError(f"{loc.uri} is {size} bytes, more than the limit for one copy "
                                 "(MODELYARD_COPY_MAX_BYTES)", uri=loc.uri, code="CopyLimitExceeded")
        archive = self.store.download(loc, work / "artifact")
        if not tarfile.is_tarfile(archive):
            raise InvalidArchiveError(
                f"{loc.uri} is not a .tar or .tar.gz archive; model data must be a tarball, a "
                "directory, or an S3 prefix ending in '/'", uri=loc.uri,
            )
        safe_extract(archive, staged, self.store.limits, name=loc.uri)

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


def _tree_fingerprint(root: Path, budget: CopyBudget, uri: str) -> str:
    digest = hashlib.sha256()
    for path in walk_regular_files(root, what=uri, budget=budget):
        stat = path.stat()
        digest.update(f"{path.relative_to(root).as_posix()}\t{local_etag(stat)}\n".encode())
    return digest.hexdigest()


def _copy_tree(source: Path, dest: Path, store: ObjectStore, uri: str) -> None:
    budget = store.limits.budget(uri)
    for path in walk_regular_files(source, what=uri, budget=budget):
        copy_regular_file(path, dest / path.relative_to(source), what=uri)
    for dirpath, dirnames, _ in os.walk(source, followlinks=False):
        for name in dirnames:
            if not os.path.islink(os.path.join(dirpath, name)):
                (dest / Path(dirpath, name).relative_to(source)).mkdir(parents=True, exist_ok=True)


def _tree_size(root: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            total += os.lstat(os.path.join(dirpath, name)).st_size
    return total
