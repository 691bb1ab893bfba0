"""What modelyard's S3 knows about its buckets, objects and uploads: rows in the SQL store
(``store.s3_rows``) naming blobs in ``s3.blobs.BlobFiles``, and S3's errors for what is not there.

A write publishes its blob first, then commits the row that names it, then removes the blob the row
named before; a crash in between leaves an unnamed blob, never a row naming a missing or partial one.
Buckets are global, as in S3; each belongs to the account that created it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from modelyard.s3.blobs import BlobFiles
from modelyard.s3.errors import (
    AccessDenied,
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    S3Error,
)
from modelyard.store.database import Database
from modelyard.store.s3_rows import Bucket, MissingBucket, MissingUpload, ObjectRecord, Part, S3Rows, Upload


def _no_such_upload(upload_id: str) -> S3Error:
    return NoSuchUpload("The specified upload does not exist. The upload ID may be invalid, or the upload may "
                        "have been aborted or completed.", UploadId=upload_id)


def _no_such_bucket(name: str) -> S3Error:
    return NoSuchBucket("The specified bucket does not exist", BucketName=name)


class Catalog:
    """Buckets, objects and uploads in the SQL store, with their blobs."""

    def __init__(self, db: Database, files: BlobFiles) -> None:
        self.rows = S3Rows(db)
        self.files = files

    # --- buckets ---------------------------------------------------------------------------------

    def create_bucket(self, account: str, region: str, name: str, now: float) -> None:
        """A new bucket; BucketAlreadyOwnedByYou / BucketAlreadyExists when the name is taken."""
        owner = self.rows.add_bucket(account, region, name, now)
        if owner is None:
            return
        if owner == account:
            raise BucketAlreadyOwnedByYou("Your previous request to create the named bucket succeeded and you "
                                          "already own it.", BucketName=name)
        raise BucketAlreadyExists("The requested bucket name is not available. The bucket namespace is shared by "
                                  "all users of the system. Please select a different name and try again.",
                                  BucketName=name)

    def bucket(self, account: str, name: str) -> Bucket:
        """The caller's bucket; NoSuchBucket, or AccessDenied when another account owns it."""
        found = self.rows.bucket(name)
        if found is None:
            raise _no_such_bucket(name)
        if found.account != account:
            raise AccessDenied(f"Access Denied: bucket {name} belongs to another account", BucketName=name)
        return found

    def owner(self, name: str) -> str | None:
        """The account that owns bucket ``name`` (None: there is no such bucket)."""
        return self.rows.owner(name)

    def buckets(self, account: str) -> list[Bucket]:
        """The account's buckets by name."""
        return self.rows.buckets(account)

    def delete_bucket(self, account: str, name: str) -> None:
        """Delete an empty bucket; BucketNotEmpty while objects or uploads remain."""
        self.bucket(account, name)
        if not self.rows.delete_empty_bucket(name):
            raise BucketNotEmpty("The bucket you tried to delete is not empty", BucketName=name)

    # --- objects ---------------------------------------------------------------------------------

    def put(self, record: ObjectRecord, temp: Path) -> ObjectRecord:
        """Publish ``temp`` as the bytes of ``record`` (replacing any object at its key)."""
        blob = self.files.publish(temp)
        try:
            old = self.rows.replace_object(record, blob)
        except MissingBucket:
            self.files.remove(blob)
            raise _no_such_bucket(record.bucket) from None
        except BaseException:
            self.files.remove(blob)
            raise
        self.files.remove(old)
        return ObjectRecord(**{**record.__dict__, "blob": blob})

    def get(self, bucket: str, key: str) -> ObjectRecord:
        """One object's metadata; NoSuchKey when absent."""
        found = self.rows.object(bucket, key)
        if found is None:
            raise NoSuchKey("The specified key does not exist.", Key=key)
        return found

    def delete(self, bucket: str, keys: Sequence[str]) -> None:
        """Delete objects (absent keys are fine, as in S3)."""
        self.files.remove(*self.rows.delete_objects(bucket, keys))

    def scan(self, bucket: str, start: str, inclusive: bool, limit: int) -> list[ObjectRecord]:
        """Up to ``limit`` objects from ``start`` on, by key (code-point order)."""
        return self.rows.scan(bucket, start, inclusive, limit)

    # --- multipart uploads -----------------------------------------------------------------------

    def create_upload(self, upload: Upload) -> None:
        """Record a new multipart upload."""
        self.rows.add_upload(upload)

    def upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        """An upload in progress for this bucket and key; NoSuchUpload otherwise."""
        found = self.rows.upload(upload_id)
        if found is None or found.bucket != bucket or found.key != key:
            raise _no_such_upload(upload_id)
        return found

    def put_part(self, upload: Upload, part: Part, temp: Path) -> Part:
        """Publish ``temp`` as part ``part.number`` (replacing an earlier upload of that number)."""
        blob = self.files.publish(temp)
        try:
            old = self.rows.replace_part(upload.upload_id, part, blob)
        except MissingUpload:
            self.files.remove(blob)
            raise _no_such_upload(upload.upload_id) from None
        except BaseException:
            self.files.remove(blob)
            raise
        self.files.remove(old)
        return Part(part.number, blob, part.size, part.etag, part.checksum, part.modified_at)

    def parts(self, upload_id: str) -> list[Part]:
        """The upload's parts by number."""
        return self.rows.parts(upload_id)

    def complete(self, upload: Upload, record: ObjectRecord, temp: Path) -> ObjectRecord:
        """Publish the assembled object and end the upload, in one transaction."""
        blob = self.files.publish(temp)
        try:
            freed = self.rows.complete_upload(upload.upload_id, record, blob)
        except MissingUpload:
            self.files.remove(blob)
            raise _no_such_upload(upload.upload_id) from None
        except BaseException:
            self.files.remove(blob)
            raise
        self.files.remove(*freed)
        return ObjectRecord(**{**record.__dict__, "blob": blob})

    def abort(self, upload: Upload) -> None:
        """End an upload and remove its parts."""
        self.files.remove(*self.rows.abort_upload(upload.upload_id))

    def uploads(self, bucket: str, prefix: str, limit: int) -> Iterator[Upload]:
        """Uploads in progress in the bucket under ``prefix``, by key then start time."""
        return iter(self.rows.uploads(bucket, prefix, limit))
