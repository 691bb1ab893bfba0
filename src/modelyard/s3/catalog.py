"""What modelyard's S3 knows about its buckets, objects and uploads: rows in the SQL store
(``s3_buckets``, ``s3_objects``, ``s3_uploads``, ``s3_parts``, migration 0004) naming blobs in
``s3.blobs.BlobFiles``.

A write publishes its blob first, then commits the row that names it, then removes the blob the row
named before; a crash in between leaves an unnamed blob, never a row naming a missing or partial one.
Buckets are global, as in S3; each belongs to the account that created it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from modelyard.s3.blobs import BlobFiles
from modelyard.s3.errors import (
    AccessDenied,
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
)
from modelyard.store.database import Database
from modelyard.store.errors import DuplicateKey
from modelyard.store.tables import s3_buckets, s3_objects, s3_parts, s3_uploads


@dataclass(frozen=True)
class Bucket:
    """One bucket."""

    name: str
    account: str
    region: str
    created_at: float


@dataclass(frozen=True)
class ObjectRecord:
    """One object's metadata; ``blob`` names its bytes."""

    bucket: str
    key: str
    size: int
    etag: str
    modified_at: float
    content_type: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    checksum_algorithm: str | None = None
    checksum: str | None = None
    parts: int | None = None
    blob: str = ""


@dataclass(frozen=True)
class Upload:
    """One multipart upload in progress."""

    upload_id: str
    bucket: str
    key: str
    created_at: float
    content_type: str | None
    headers: dict[str, Any]
    metadata: dict[str, str]
    checksum_algorithm: str | None


@dataclass(frozen=True)
class Part:
    """One uploaded part."""

    number: int
    blob: str
    size: int
    etag: str
    checksum: str | None
    modified_at: float


def _object(row: Row[Any]) -> ObjectRecord:
    return ObjectRecord(bucket=row.bucket, key=row.key, size=row.size, etag=row.etag, modified_at=row.modified_at,
                        content_type=row.content_type, headers=json.loads(row.headers or "{}"),
                        metadata=json.loads(row.metadata or "{}"), checksum_algorithm=row.checksum_algorithm,
                        checksum=row.checksum, parts=row.parts, blob=row.blob)


def _upload(row: Row[Any]) -> Upload:
    return Upload(row.upload_id, row.bucket, row.key, row.created_at, row.content_type,
                  json.loads(row.headers or "{}"), json.loads(row.metadata or "{}"), row.checksum_algorithm)


def _object_values(record: ObjectRecord, blob: str) -> dict[str, Any]:
    return {"bucket": record.bucket, "key": record.key, "blob": blob, "size": record.size, "etag": record.etag,
            "content_type": record.content_type, "headers": json.dumps(record.headers),
            "metadata": json.dumps(record.metadata), "checksum_algorithm": record.checksum_algorithm,
            "checksum": record.checksum, "parts": record.parts, "modified_at": record.modified_at}


class Catalog:
    """Buckets, objects and uploads in the SQL store, with their blobs."""

    def __init__(self, db: Database, files: BlobFiles) -> None:
        self.db = db
        self.files = files

    # --- buckets ---------------------------------------------------------------------------------

    def create_bucket(self, account: str, region: str, name: str, now: float) -> None:
        """A new bucket; BucketAlreadyOwnedByYou / BucketAlreadyExists when the name is taken."""
        try:
            with self.db.session(write=True) as conn:
                existing = conn.execute(select(s3_buckets.c.account).where(s3_buckets.c.name == name)).first()
                if existing is None:
                    conn.execute(insert(s3_buckets).values(name=name, account=account, region=region,
                                                           created_at=now))
                    return
        except DuplicateKey:
            existing = None
        if existing is not None and existing.account == account:
            raise BucketAlreadyOwnedByYou("Your previous request to create the named bucket succeeded and you "
                                          "already own it.", BucketName=name)
        raise BucketAlreadyExists("The requested bucket name is not available. The bucket namespace is shared by "
                                  "all users of the system. Please select a different name and try again.",
                                  BucketName=name)

    def bucket(self, account: str, name: str) -> Bucket:
        """The caller's bucket; NoSuchBucket, or AccessDenied when another account owns it."""
        with self.db.session() as conn:
            row = conn.execute(select(s3_buckets).where(s3_buckets.c.name == name)).first()
        if row is None:
            raise NoSuchBucket("The specified bucket does not exist", BucketName=name)
        if row.account != account:
            raise AccessDenied(f"Access Denied: bucket {name} belongs to another account", BucketName=name)
        return Bucket(row.name, row.account, row.region, row.created_at)

    def owner(self, name: str) -> str | None:
        """The account that owns bucket ``name`` (None: there is no such bucket)."""
        with self.db.session() as conn:
            row = conn.execute(select(s3_buckets.c.account).where(s3_buckets.c.name == name)).first()
        return None if row is None else str(row.account)

    def buckets(self, account: str) -> list[Bucket]:
        """The account's buckets by name."""
        with self.db.session() as conn:
            rows = conn.execute(select(s3_buckets).where(s3_buckets.c.account == account)
                                .order_by(s3_buckets.c.name)).all()
        return [Bucket(row.name, row.account, row.region, row.created_at) for row in rows]

    def delete_bucket(self, account: str, name: str) -> None:
        """Delete an empty bucket; BucketNotEmpty while objects or uploads remain."""
        self.bucket(account, name)
        with self.db.session(write=True) as conn:
            held = conn.execute(select(s3_objects.c.key).where(s3_objects.c.bucket == name).limit(1)).first()
            uploads = conn.execute(select(s3_uploads.c.upload_id).where(s3_uploads.c.bucket == name).limit(1)).first()
            if held is not None or uploads is not None:
                raise BucketNotEmpty("The bucket you tried to delete is not empty", BucketName=name)
            conn.execute(delete(s3_buckets).where(s3_buckets.c.name == name))

    # --- objects ---------------------------------------------------------------------------------

    def put(self, record: ObjectRecord, temp: Path) -> ObjectRecord:
        """Publish ``temp`` as the bytes of ``record`` (replacing any object at its key)."""
        blob = self.files.publish(temp)
        try:
            old = self._replace(record, blob)
        except BaseException:
            self.files.remove(blob)
            raise
        self.files.remove(old)
        return ObjectRecord(**{**record.__dict__, "blob": blob})

    def _replace(self, record: ObjectRecord, blob: str, conn: Connection | None = None) -> str | None:
        if conn is not None:
            return self._replace_in(conn, record, blob)
        for attempt in range(3):
            try:
                with self.db.session(write=True) as session:
                    return self._replace_in(session, record, blob)
            except DuplicateKey:
                if attempt == 2 or not self._bucket_exists(record.bucket):
                    raise NoSuchBucket("The specified bucket does not exist", BucketName=record.bucket) from None
        return None

    def _bucket_exists(self, name: str) -> bool:
        with self.db.session() as conn:
            return conn.execute(select(s3_buckets.c.name).where(s3_buckets.c.name == name)).first() is not None

    def _replace_in(self, conn: Connection, record: ObjectRecord, blob: str) -> str | None:
        where = (s3_objects.c.bucket == record.bucket) & (s3_objects.c.key == record.key)
        old = conn.execute(select(s3_objects.c.blob).where(where).with_for_update()).first()
        values = _object_values(record, blob)
        if old is None:
            conn.execute(insert(s3_objects).values(**values))
            return None
        conn.execute(update(s3_objects).where(where).values(**values))
        return str(old.blob)

    def get(self, bucket: str, key: str) -> ObjectRecord:
        """One object's metadata; NoSuchKey when absent."""
        with self.db.session() as conn:
            row = conn.execute(select(s3_objects).where((s3_objects.c.bucket == bucket) &
                                                        (s3_objects.c.key == key))).first()
        if row is None:
            raise NoSuchKey("The specified key does not exist.", Key=key)
        return _object(row)

    def delete(self, bucket: str, keys: Sequence[str]) -> None:
        """Delete objects (absent keys are fine, as in S3)."""
        blobs: list[str] = []
        with self.db.session(write=True) as conn:
            for key in keys:
                where = (s3_objects.c.bucket == bucket) & (s3_objects.c.key == key)
                row = conn.execute(select(s3_objects.c.blob).where(where)).first()
                if row is not None:
                    conn.execute(delete(s3_objects).where(where))
                    blobs.append(row.blob)
        self.files.remove(*blobs)

    def scan(self, bucket: str, start: str, inclusive: bool, limit: int) -> list[ObjectRecord]:
        """Up to ``limit`` objects from ``start`` on, by key (code-point order)."""
        column = s3_objects.c.key
        with self.db.session() as conn:
            rows = conn.execute(select(s3_objects).where((s3_objects.c.bucket == bucket) &
                                                         ((column >= start) if inclusive else (column > start)))
                                .order_by(column).limit(limit)).all()
        return [_object(row) for row in rows]

    # --- multipart uploads -----------------------------------------------------------------------

    def create_upload(self, upload: Upload) -> None:
        """Record a new multipart upload."""
        with self.db.session(write=True) as conn:
            conn.execute(insert(s3_uploads).values(
                upload_id=upload.upload_id, bucket=upload.bucket, key=upload.key, content_type=upload.content_type,
                headers=json.dumps(upload.headers), metadata=json.dumps(upload.metadata),
                checksum_algorithm=upload.checksum_algorithm, created_at=upload.created_at))

    def upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        """An upload in progress for this bucket and key; NoSuchUpload otherwise."""
        with self.db.session() as conn:
            row = conn.execute(select(s3_uploads).where(s3_uploads.c.upload_id == upload_id)).first()
        if row is None or row.bucket != bucket or row.key != key:
            raise NoSuchUpload("The specified upload does not exist. The upload ID may be invalid, or the upload may "
                               "have been aborted or completed.", UploadId=upload_id)
        return _upload(row)

    def put_part(self, upload: Upload, part: Part, temp: Path) -> Part:
        """Publish ``temp`` as part ``part.number`` (replacing an earlier upload of that number)."""
        blob = self.files.publish(temp)
        old: str | None = None
        try:
            with self.db.session(write=True) as conn:
                _lock_upload(conn, upload.upload_id)
                where = (s3_parts.c.upload_id == upload.upload_id) & (s3_parts.c.part_number == part.number)
                row = conn.execute(select(s3_parts.c.blob).where(where)).first()
                values = {"blob": blob, "size": part.size, "etag": part.etag, "checksum": part.checksum,
                          "modified_at": part.modified_at}
                if row is None:
                    conn.execute(insert(s3_parts).values(upload_id=upload.upload_id, part_number=part.number,
                                                         **values))
                else:
                    old = row.blob
                    conn.execute(update(s3_parts).where(where).values(**values))
        except BaseException:
            self.files.remove(blob)
            raise
        self.files.remove(old)
        return Part(part.number, blob, part.size, part.etag, part.checksum, part.modified_at)

    def parts(self, upload_id: str) -> list[Part]:
        """The upload's parts by number."""
        with self.db.session() as conn:
            rows = conn.execute(select(s3_parts).where(s3_parts.c.upload_id == upload_id)
                                .order_by(s3_parts.c.part_number)).all()
        return [Part(row.part_number, row.blob, row.size, row.etag, row.checksum, row.modified_at) for row in rows]

    def complete(self, upload: Upload, record: ObjectRecord, temp: Path) -> ObjectRecord:
        """Publish the assembled object and end the upload, in one transaction."""
        blob = self.files.publish(temp)
        try:
            with self.db.session(write=True) as conn:
                _lock_upload(conn, upload.upload_id)
                part_blobs = [row.blob for row in conn.execute(
                    select(s3_parts.c.blob).where(s3_parts.c.upload_id == upload.upload_id))]
                conn.execute(delete(s3_parts).where(s3_parts.c.upload_id == upload.upload_id))
                conn.execute(delete(s3_uploads).where(s3_uploads.c.upload_id == upload.upload_id))
                old = self._replace(record, blob, conn)
        except BaseException:
            self.files.remove(blob)
            raise
        self.files.remove(old, *part_blobs)
        return ObjectRecord(**{**record.__dict__, "blob": blob})

    def abort(self, upload: Upload) -> None:
        """End an upload and remove its parts."""
        with self.db.session(write=True) as conn:
            blobs = [row.blob for row in conn.execute(
                select(s3_parts.c.blob).where(s3_parts.c.upload_id == upload.upload_id))]
            conn.execute(delete(s3_parts).where(s3_parts.c.upload_id == upload.upload_id))
            conn.execute(delete(s3_uploads).where(s3_uploads.c.upload_id == upload.upload_id))
        self.files.remove(*blobs)

    def uploads(self, bucket: str, prefix: str, limit: int) -> Iterator[Upload]:
        """Uploads in progress in the bucket under ``prefix``, by key then start time."""
        with self.db.session() as conn:
            rows = conn.execute(select(s3_uploads).where((s3_uploads.c.bucket == bucket) &
                                                         (func.substr(s3_uploads.c.key, 1, len(prefix)) == prefix))
                                .order_by(s3_uploads.c.key, s3_uploads.c.created_at).limit(limit)).all()
        return (_upload(row) for row in rows)


def _lock_upload(conn: Connection, upload_id: str) -> None:
    """Lock the upload's row for the transaction; NoSuchUpload when it was aborted or completed."""
    if conn.execute(select(s3_uploads.c.upload_id).where(
            s3_uploads.c.upload_id == upload_id).with_for_update()).first() is None:
        raise NoSuchUpload("The specified upload does not exist. The upload ID may be invalid, or the "
                           "upload may have been aborted or completed.", UploadId=upload_id)
