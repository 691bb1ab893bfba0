"""The server's own reads and writes of ``s3://`` URIs in its own S3, straight to disk (no HTTP).

``ObjectStore`` uses this backend for ``s3://`` when no external S3 is configured (no
``AWS_ENDPOINT_URL_S3`` in the server's environment), so artifacts, job channels and outputs the
user uploaded to modelyard are read from the blob files and written as objects of the same buckets.
Which account may name a bucket is checked when a resource naming it is created
(``services.data_locations``); here the server acts for that resource.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelyard.s3.blobs import BlobFiles
from modelyard.s3.catalog import Catalog
from modelyard.s3.errors import NoSuchBucket, NoSuchKey, S3Error
from modelyard.s3.listing import list_keys
from modelyard.storage.atomic import atomic_path
from modelyard.storage.backend import ObjectInfo
from modelyard.storage.errors import ArtifactNotFoundError, StorageError
from modelyard.storage.uris import Location
from modelyard.store.s3_rows import ObjectRecord

CHUNK = 1 << 20
_PAGE = 1000


class LocalS3Backend:
    """A ``storage.backend.Backend`` over modelyard's own buckets."""

    def __init__(self, catalog: Catalog, files: BlobFiles) -> None:
        self.catalog = catalog
        self.files = files

    def owner(self, bucket: str) -> str | None:
        """The account that owns ``bucket`` (None: no such bucket)."""
        return self.catalog.owner(bucket)

    def read_bytes(self, loc: Location) -> bytes:
        """The whole object."""
        with _errors(loc, "GetObject"):
            return self.files.path(self._record(loc).blob).read_bytes()

    def write_bytes(self, loc: Location, data: bytes) -> None:
        """Create or replace the object."""
        with _errors(loc, "PutObject"):
            self._require_bucket(loc)
            temp = self.files.temporary()
            temp.write_bytes(data)
            self._publish(loc, temp, hashlib.md5(data, usedforsecurity=False).hexdigest(), len(data))

    def download(self, loc: Location, dest: Path) -> None:
        """Copy the object's bytes to ``dest`` (through a temporary file)."""
        with _errors(loc, "GetObject"), atomic_path(dest) as tmp:
            shutil.copyfile(self.files.path(self._record(loc).blob), tmp)

    def upload_file(self, path: Path, loc: Location) -> None:
        """Store the file ``path`` as the object."""
        with _errors(loc, "PutObject"):
            self._require_bucket(loc)
            temp = self.files.temporary()
            digest = hashlib.md5(usedforsecurity=False)
            size = 0
            with open(path, "rb") as source, open(temp, "wb") as out:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            self._publish(loc, temp, digest.hexdigest(), size)

    def list(self, loc: Location) -> list[ObjectInfo]:
        """Every object whose key starts with the location's key (folder markers left out), by key."""
        infos: list[ObjectInfo] = []
        with _errors(loc, "ListObjectsV2"):
            self._require_bucket(loc)
            after = ""
            while True:
                page = list_keys(self.catalog, loc.bucket, loc.key, "", after, _PAGE)
                infos += [_info(loc, record) for record in page.objects if not record.key.endswith("/")]
                if not page.truncated:
                    return infos
                after = page.last

    def stat(self, loc: Location) -> ObjectInfo:
        """Size and ETag of one object."""
        with _errors(loc, "HeadObject"):
            record = self._record(loc)
        return ObjectInfo(uri=loc.uri, key=loc.key, size=record.size, etag=record.etag, relative=loc.name,
                          content_type=record.content_type)

    def exists(self, loc: Location) -> bool:
        """True if the object exists, or (for a prefix) any object lies below it."""
        with _errors(loc, "HeadObject"):
            self._require_bucket(loc)
            if not loc.is_prefix:
                try:
                    self.catalog.get(loc.bucket, loc.key)
                    return True
                except NoSuchKey:
                    pass
            prefix = loc.key if loc.is_prefix else loc.key + "/"
            return bool(list_keys(self.catalog, loc.bucket, prefix, "", "", 1).objects)

    def _record(self, loc: Location) -> ObjectRecord:
        self._require_bucket(loc)
        return self.catalog.get(loc.bucket, loc.key)

    def _require_bucket(self, loc: Location) -> None:
        if self.catalog.owner(loc.bucket) is None:
            raise NoSuchBucket("The specified bucket does not exist", BucketName=loc.bucket)

    def _publish(self, loc: Location, temp: Path, etag: str, size: int) -> None:
        record = ObjectRecord(bucket=loc.bucket, key=loc.key, size=size, etag=etag, modified_at=time.time(),
                              content_type="binary/octet-stream")
        try:
            self.catalog.put(record, temp)
        finally:
            temp.unlink(missing_ok=True)


def _info(loc: Location, record: ObjectRecord) -> ObjectInfo:
    return ObjectInfo(uri=f"s3://{loc.bucket}/{record.key}", key=record.key, size=record.size, etag=record.etag,
                      relative=record.key[len(loc.key):].lstrip("/"))


@contextmanager
def _errors(loc: Location, operation: str) -> Iterator[None]:
    try:
        yield
    except (NoSuchKey, NoSuchBucket) as exc:
        what = "bucket" if isinstance(exc, NoSuchBucket) else "object"
        raise ArtifactNotFoundError(f"{loc.uri} does not exist (S3 {operation}: {exc.code}: no such {what})",
                                    uri=loc.uri, code=exc.code) from None
    except S3Error as exc:
        raise StorageError(f"S3 {operation} {loc.uri} failed: {exc.code}: {exc.message}", uri=loc.uri,
                           code=exc.code) from None
    except FileNotFoundError:
        raise ArtifactNotFoundError(f"{loc.uri} does not exist (S3 {operation}: it was replaced or deleted while "
                                    "being read)", uri=loc.uri, code="NoSuchKey") from None
