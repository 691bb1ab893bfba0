"""The object store facade the server uses: one API over S3 and local paths.

    ObjectStore.read_bytes("s3://b/k") ──► S3Backend (boto3)  ──► AWS S3 / MinIO / moto
                                       or  the server's own S3 (s3.local_objects), straight to disk
    ObjectStore.read_bytes("/srv/x")   ──► LocalBackend       ──► the filesystem
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from modelyard.storage.backend import Backend, ObjectInfo
from modelyard.storage.errors import ArtifactNotFoundError, StorageError
from modelyard.storage.limits import CopyLimits
from modelyard.storage.local_policy import LocalPathPolicy
from modelyard.storage.localfs import LocalBackend
from modelyard.storage.s3 import S3Backend
from modelyard.storage.uris import Location, parse_location
from modelyard.storage.walk import walk_regular_files

UriLike = str | Path | Location


class ObjectStore:
    """Read, write, list and copy objects at ``s3://``, ``file://`` and plain-path locations.

    S3 access uses one boto3 client per store, created on first use; ``endpoint_url``,
    ``region_name``, ``config`` (a ``botocore.config.Config``), ``session`` or a ready
    ``s3_client`` override what boto3 would otherwise take from the standard AWS settings.
    Relative paths resolve against ``base_dir`` (default: the current directory).

    Every URI argument is a user's location: a local one must pass ``policy`` (protected areas and
    the ``file://`` mode) when the operation runs, and copies stop at ``limits``. ``Path`` arguments
    are the caller's own files. ``s3_backend`` replaces boto3 for ``s3://`` (the server's own S3).
    """

    def __init__(self, *, endpoint_url: str | None = None, region_name: str | None = None,
                 config: Any = None, session: Any = None, s3_client: Any = None,
                 base_dir: Path | None = None, policy: LocalPathPolicy | None = None,
                 limits: CopyLimits | None = None, s3_backend: Backend | None = None) -> None:
        self._s3: Backend = s3_backend or S3Backend(endpoint_url=endpoint_url, region_name=region_name, config=config,
                                                    session=session, client=s3_client)
        self.limits = limits or CopyLimits()
        self.policy = policy or LocalPathPolicy()
        self._local = LocalBackend(self.limits)
        self._base_dir = base_dir

    def location(self, uri: UriLike) -> Location:
        """Parse ``uri`` (raises :class:`InvalidLocationError` when it is unusable)."""
        if isinstance(uri, Location):
            return uri
        return parse_location(uri, base_dir=self._base_dir)

    def checked(self, uri: UriLike) -> Location:
        """Parse ``uri`` and apply the local-path policy (:class:`ForbiddenLocationError` if refused)."""
        loc = self.location(uri)
        self.policy.check(loc)
        return loc

    def read_bytes(self, uri: UriLike) -> bytes:
        """The whole object."""
        loc = self.checked(uri)
        return self._backend(loc).read_bytes(loc)

    def write_bytes(self, uri: UriLike, data: bytes) -> None:
        """Create or replace the object, complete-or-nothing."""
        loc = self.checked(uri)
        self._backend(loc).write_bytes(loc, data)

    def download(self, uri: UriLike, dest: Path) -> Path:
        """Copy one object to the file ``dest`` (or into ``dest`` if it is a directory)."""
        loc = self.checked(uri)
        dest = Path(dest)
        if dest.is_dir():
            dest = dest / (loc.name or "object")
        self._backend(loc).download(loc, dest)
        return dest

    def download_prefix(self, uri: UriLike, dest_dir: Path) -> list[Path]:
        """Copy every object under ``uri`` into ``dest_dir``, keeping relative key paths.

        A local directory is copied as a tree and a local or S3 single object lands as
        ``dest_dir/<name>``. For an S3 key without a trailing ``/`` (``s3://b/data/train``),
        the object ``data/train`` itself becomes ``train``, ``data/train/a.csv`` becomes
        ``a.csv`` and other keys sharing the text prefix (``data/train-2/b.csv``) keep their
        path from the parent folder (``train-2/b.csv``). Raises
        :class:`ArtifactNotFoundError` when nothing is there.
        """
        loc = self.checked(uri)
        dest_dir = Path(dest_dir)
        backend = self._backend(loc)
        infos = backend.list(loc)
        if not infos:
            raise ArtifactNotFoundError(f"no objects found under {loc.uri}", uri=loc.uri, code="NoSuchKey")
        budget = self.limits.budget(loc.uri)
        for info in infos:
            budget.add_file(info.size)
        written: list[Path] = []
        for info in infos:
            relative = _relative_path(loc, info)
            target = dest_dir.joinpath(*relative.parts)
            backend.download(self.checked(info.uri), target)
            written.append(target)
        return written

    def upload_file(self, path: Path, uri: UriLike) -> str:
        """Store the local file ``path`` at ``uri``; returns the canonical URI."""
        loc = self.checked(uri)
        path = Path(path)
        if not path.is_file():
            raise ArtifactNotFoundError(f"local file {path.name} does not exist", uri=path.name,
                                        code="ENOENT")
        self._backend(loc).upload_file(path, loc)
        return loc.uri

    def upload_dir(self, directory: Path, uri_prefix: UriLike) -> list[str]:
        """Store every file below ``directory`` under ``uri_prefix``; returns the URIs written."""
        loc = self.checked(uri_prefix)
        directory = Path(directory)
        if not directory.is_dir():
            raise ArtifactNotFoundError(f"local directory {directory.name} does not exist",
                                        uri=directory.name, code="ENOENT")
        uris: list[str] = []
        files = sorted(walk_regular_files(directory, what="the directory to upload",
                                          budget=self.limits.budget(loc.uri)),
                       key=lambda path: path.relative_to(directory).as_posix())
        for path in files:
            target = self.checked(loc.child(path.relative_to(directory).as_posix()))
            self._backend(target).upload_file(path, target)
            uris.append(target.uri)
        return uris

    def list(self, uri_prefix: UriLike) -> list[ObjectInfo]:
        """Objects under a prefix (S3: keys starting with it; local: files below it), by key."""
        loc = self.checked(uri_prefix)
        return self._backend(loc).list(loc)

    def stat(self, uri: UriLike) -> ObjectInfo:
        """Size and ETag (or local change marker) of one object."""
        loc = self.checked(uri)
        return self._backend(loc).stat(loc)

    def exists(self, uri: UriLike) -> bool:
        """True if an object (or, for a prefix/directory, anything) is at ``uri``."""
        loc = self.checked(uri)
        return self._backend(loc).exists(loc)

    def _backend(self, loc: Location) -> Backend:
        return self._s3 if loc.is_s3 else self._local


def _relative_path(loc: Location, info: ObjectInfo) -> PurePosixPath:
    if not loc.is_s3:
        relative = info.relative
    elif loc.is_prefix or info.key.startswith(loc.key + "/"):
        relative = info.key[len(loc.key):]
    elif info.key == loc.key:
        relative = loc.name
    else:
        parent = loc.key.rsplit("/", 1)[0] + "/" if "/" in loc.key else ""
        relative = info.key[len(parent):]
    parts = [part for part in relative.split("/") if part]
    if not parts or any(part in (".", "..") for part in parts):
        raise StorageError(
            f"refusing to download {info.uri}: its key is not a safe relative path below {loc.uri}",
            uri=info.uri, code="UnsafeKey",
        )
    return PurePosixPath(*parts)
