"""The rows of modelyard's own S3 (``s3_buckets``, ``s3_objects``, ``s3_uploads``, ``s3_parts``, migration
0004): every SQL statement S3 needs, and the records they read and write.

Rows only name blobs; publishing and removing the bytes is ``s3.catalog``'s job, as is turning the
outcomes here (``None``, ``False``, ``MissingBucket``, ``MissingUpload``) into S3's errors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from modelyard.store.database import Database
from modelyard.store.errors import DuplicateKey, StoreError
from modelyard.store.tables import s3_buckets, s3_objects, s3_parts, s3_uploads


class MissingBucket(StoreError):
    """The bucket an object row names does not exist (any more)."""


class MissingUpload(StoreError):
    """The multipart upload was aborted or completed."""


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


def _bucket(row: Row[Any]) -> Bucket:
    return Bucket(row.name, row.account, row.region, row.created_at)


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


class S3Rows:
    """Buckets, objects, uploads and parts as rows of the SQL store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- buckets ---------------------------------------------------------------------------------

    def add_bucket(self, account: str, region: str, name: str, now: float) -> str | None:
        """Insert the bucket; None when it was added, else the account that already owns the name."""
        try:
            with self.db.session(write=True) as conn:
                existing = conn.execute(select(s3_buckets.c.account).where(s3_buckets.c.name == name)).first()
                if existing is None:
                    conn.execute(insert(s3_buckets).values(name=name, account=account, region=region,
                                                           created_at=now))
                    return None
                return str(existing.account)
        except DuplicateKey:
            owner = self.owner(name)
            return owner if owner is not None else ""

    def bucket(self, name: str) -> Bucket | None:
        """Bucket ``name``, or None."""
        with self.db.session() as conn:
            row = conn.execute(select(s3_buckets).where(s3_buckets.c.name == name)).first()
        return None if row is None else _bucket(row)

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
        return [_bucket(row) for row in rows]

    def delete_empty_bucket(self, name: str) -> bool:
        """Delete the bucket unless objects or uploads remain in it (then False)."""
        with self.db.session(write=True) as conn:
            held = conn.execute(select(s3_objects.c.key).where(s3_objects.c.bucket == name).limit(1)).first()
            uploads = conn.execute(select(s3_uploads.c.upload_id).where(s3_uploads.c.bucket == name).limit(1)).first()
            if held is not None or uploads is not None:
                return False
            conn.execute(delete(s3_buckets).where(s3_buckets.c.name == name))
            return True

    # --- objects ---------------------------------------------------------------------------------

    def replace_object(self, record: ObjectRecord, blob: str) -> str | None:
        """Point the object's row at ``blob``; the blob it named before, if any. MissingBucket when the
        bucket is gone (a racing insert is retried)."""
        for attempt in range(3):
            try:
                with self.db.session(write=True) as conn:
                    return _replace_in(conn, record, blob)
            except DuplicateKey:
                if attempt == 2 or self.owner(record.bucket) is None:
                    raise MissingBucket(record.bucket) from None
        return None

    def object(self, bucket: str, key: str) -> ObjectRecord | None:
        """One object's row, or None."""
        with self.db.session() as conn:
            row = conn.execute(select(s3_objects).where((s3_objects.c.bucket == bucket) &
                                                        (s3_objects.c.key == key))).first()
        return None if row is None else _object(row)

    def delete_objects(self, bucket: str, keys: Sequence[str]) -> list[str]:
        """Delete the rows of ``keys`` (absent ones are skipped); the blobs they named."""
        blobs: list[str] = []
        with self.db.session(write=True) as conn:
            for key in keys:
                where = (s3_objects.c.bucket == bucket) & (s3_objects.c.key == key)
                row = conn.execute(select(s3_objects.c.blob).where(where)).first()
                if row is not None:
                    conn.execute(delete(s3_objects).where(where))
                    blobs.append(row.blob)
        return blobs

    def scan(self, bucket: str, start: str, inclusive: bool, limit: int) -> list[ObjectRecord]:
        """Up to ``limit`` objects from ``start`` on, by key (code-point order)."""
        column = s3_objects.c.key
        with self.db.session() as conn:
            rows = conn.execute(select(s3_objects).where((s3_objects.c.bucket == bucket) &
                                                         ((column >= start) if inclusive else (column > start)))
                                .order_by(column).limit(limit)).all()
        return [_object(row) for row in rows]

    # --- multipart uploads -----------------------------------------------------------------------

    def add_upload(self, upload: Upload) -> None:
        """Record a new multipart upload."""
        with self.db.session(write=True) as conn:
            conn.execute(insert(s3_uploads).values(
                upload_id=upload.upload_id, bucket=upload.bucket, key=upload.key, content_type=upload.content_type,
                headers=json.dumps(upload.headers), metadata=json.dumps(upload.metadata),
                checksum_algorithm=upload.checksum_algorithm, created_at=upload.created_at))

    def upload(self, upload_id: str) -> Upload | None:
        """The upload in progress with this id, or None."""
        with self.db.session() as conn:
            row = conn.execute(select(s3_uploads).where(s3_uploads.c.upload_id == upload_id)).first()
        return None if row is None else _upload(row)

    def replace_part(self, upload_id: str, part: Part, blob: str) -> str | None:
        """Point part ``part.number`` at ``blob``; the blob it named before, if any. MissingUpload when the
        upload has ended."""
        with self.db.session(write=True) as conn:
            _lock_upload(conn, upload_id)
            where = (s3_parts.c.upload_id == upload_id) & (s3_parts.c.part_number == part.number)
            row = conn.execute(select(s3_parts.c.blob).where(where)).first()
            values = {"blob": blob, "size": part.size, "etag": part.etag, "checksum": part.checksum,
                      "modified_at": part.modified_at}
            if row is None:
                conn.execute(insert(s3_parts).values(upload_id=upload_id, part_number=part.number, **values))
                return None
            conn.execute(update(s3_parts).where(where).values(**values))
            return str(row.blob)

    def parts(self, upload_id: str) -> list[Part]:
        """The upload's parts by number."""
        with self.db.session() as conn:
            rows = conn.execute(select(s3_parts).where(s3_parts.c.upload_id == upload_id)
                                .order_by(s3_parts.c.part_number)).all()
        return [Part(row.part_number, row.blob, row.size, row.etag, row.checksum, row.modified_at) for row in rows]

    def complete_upload(self, upload_id: str, record: ObjectRecord, blob: str) -> list[str]:
        """End the upload and point the object's row at ``blob``, in one transaction; the blobs no row names
        any more (the parts' and the object's old one). MissingUpload when the upload has ended."""
        with self.db.session(write=True) as conn:
            _lock_upload(conn, upload_id)
            freed = _drop_upload(conn, upload_id)
            old = _replace_in(conn, record, blob)
        return freed + ([old] if old else [])

    def abort_upload(self, upload_id: str) -> list[str]:
        """End the upload; the blobs of its parts."""
        with self.db.session(write=True) as conn:
            return _drop_upload(conn, upload_id)

    def uploads(self, bucket: str, prefix: str, limit: int) -> list[Upload]:
        """Uploads in progress in the bucket under ``prefix``, by key then start time."""
        with self.db.session() as conn:
            rows = conn.execute(select(s3_uploads).where((s3_uploads.c.bucket == bucket) &
                                                         (func.substr(s3_uploads.c.key, 1, len(prefix)) == prefix))
                                .order_by(s3_uploads.c.key, s3_uploads.c.created_at).limit(limit)).all()
        return [_upload(row) for row in rows]


def _replace_in(conn: Connection, record: ObjectRecord, blob: str) -> str | None:
    where = (s3_objects.c.bucket == record.bucket) & (s3_objects.c.key == record.key)
    old = conn.execute(select(s3_objects.c.blob).where(where).with_for_update()).first()
    values = _object_values(record, blob)
    if old is None:
        conn.execute(insert(s3_objects).values(**values))
        return None
    conn.execute(update(s3_objects).where(where).values(**values))
    return str(old.blob)


def _drop_upload(conn: Connection, upload_id: str) -> list[str]:
    blobs = [str(row.blob) for row in conn.execute(select(s3_parts.c.blob).where(s3_parts.c.upload_id == upload_id))]
    conn.execute(delete(s3_parts).where(s3_parts.c.upload_id == upload_id))
    conn.execute(delete(s3_uploads).where(s3_uploads.c.upload_id == upload_id))
    return blobs


def _lock_upload(conn: Connection, upload_id: str) -> None:
    if conn.execute(select(s3_uploads.c.upload_id).where(
            s3_uploads.c.upload_id == upload_id).with_for_update()).first() is None:
        raise MissingUpload(upload_id)
