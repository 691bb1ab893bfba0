"""S3 backend on boto3: one client per backend, created on first use.

boto3 itself honours the standard AWS settings (``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``,
region, credentials, profiles); ``endpoint_url`` given here overrides them. Writes are
complete-or-nothing: ``put_object`` for bytes, boto3's managed transfer (a multipart upload that
becomes visible only when completed) for files.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from modelyard.storage.atomic import atomic_path
from modelyard.storage.backend import ObjectInfo
from modelyard.storage.errors import ArtifactNotFoundError, StorageError
from modelyard.storage.uris import Location

_NOT_FOUND = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}
_CODE_IN_MESSAGE = re.compile(r"An error occurred \(([^)]+)\)")


class S3Backend:
    """Reads and writes S3 objects through a lazily created boto3 client."""

    def __init__(self, *, endpoint_url: str | None = None, region_name: str | None = None,
                 config: Any = None, session: Any = None, client: Any = None) -> None:
        self._endpoint_url = endpoint_url
        self._region_name = region_name
        self._config = config
        self._session = session
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The boto3 S3 client (created once)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        import boto3

        session = self._session or boto3.session.Session()
        return session.client(
            "s3", endpoint_url=self._endpoint_url, region_name=self._region_name, config=self._config
        )

    def read_bytes(self, loc: Location) -> bytes:
        """The whole object."""
        with s3_errors(loc, "GetObject"):
            response = self.client.get_object(Bucket=loc.bucket, Key=loc.key)
            data: bytes = response["Body"].read()
            return data

    def write_bytes(self, loc: Location, data: bytes) -> None:
        """One PutObject: the object appears whole or not at all."""
        with s3_errors(loc, "PutObject"):
            self.client.put_object(Bucket=loc.bucket, Key=loc.key, Body=data)

    def download(self, loc: Location, dest: Path) -> None:
        """Fetch the object into ``dest`` (through a temporary file)."""
        with s3_errors(loc, "GetObject"), atomic_path(dest) as tmp:
            self.client.download_file(loc.bucket, loc.key, str(tmp))

    def upload_file(self, path: Path, loc: Location) -> None:
        """Upload ``path`` (multipart for large files; visible only once complete)."""
        with s3_errors(loc, "PutObject"):
            self.client.upload_file(str(path), loc.bucket, loc.key)

    def list(self, loc: Location) -> list[ObjectInfo]:
        """Every object whose key starts with the location's key, sorted by key.

        Zero-byte "folder" markers (keys ending in ``/``) are left out.
        """
        infos: list[ObjectInfo] = []
        with s3_errors(loc, "ListObjectsV2"):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=loc.bucket, Prefix=loc.key):
                for item in page.get("Contents", []):
                    key = item["Key"]
                    if key.endswith("/"):
                        continue
                    infos.append(ObjectInfo(
                        uri=f"s3://{loc.bucket}/{key}",
                        key=key,
                        size=int(item.get("Size", 0)),
                        etag=str(item.get("ETag", "")).strip('"'),
                        relative=key[len(loc.key):].lstrip("/"),
                    ))
        return sorted(infos, key=lambda info: info.key)

    def stat(self, loc: Location) -> ObjectInfo:
        """Size and ETag of one object (HeadObject)."""
        with s3_errors(loc, "HeadObject"):
            head = self.client.head_object(Bucket=loc.bucket, Key=loc.key)
        return ObjectInfo(
            uri=loc.uri,
            key=loc.key,
            size=int(head.get("ContentLength", 0)),
            etag=str(head.get("ETag", "")).strip('"'),
            relative=loc.name,
            content_type=head.get("ContentType"),
        )

    def exists(self, loc: Location) -> bool:
        """True if the object exists, or (for a prefix) any object lies below it.

        A missing bucket is not "no object": it raises :class:`ArtifactNotFoundError`.
        """
        if not loc.is_prefix:
            try:
                self.stat(loc)
                return True
            except ArtifactNotFoundError:
                pass
        prefix = loc.key if loc.is_prefix else loc.key + "/"
        with s3_errors(loc, "ListObjectsV2"):
            page = self.client.list_objects_v2(Bucket=loc.bucket, Prefix=prefix, MaxKeys=1)
        return bool(page.get("KeyCount", len(page.get("Contents", []))))


@contextmanager
def s3_errors(loc: Location, operation: str) -> Iterator[None]:
    """Turn botocore/boto3 failures into :class:`StorageError` / :class:`ArtifactNotFoundError`."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = error.get("Message") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        raise _error(loc, operation, code, str(message)) from exc
    except S3UploadFailedError as exc:
        match = _CODE_IN_MESSAGE.search(str(exc))
        raise _error(loc, operation, match.group(1) if match else "UploadFailed", str(exc)) from exc
    except NoCredentialsError as exc:
        raise StorageError(
            f"S3 {operation} {loc.uri} failed: no AWS credentials found; set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or a profile)", uri=loc.uri, code="NoCredentials",
        ) from exc
    except BotoCoreError as exc:
        raise StorageError(
            f"S3 {operation} {loc.uri} failed: {exc}", uri=loc.uri, code=type(exc).__name__
        ) from exc


def _error(loc: Location, operation: str, code: str, message: str) -> StorageError:
    if code in _NOT_FOUND:
        what = "bucket" if code == "NoSuchBucket" else "object"
        return ArtifactNotFoundError(
            f"{loc.uri} does not exist (S3 {operation}: {code}: no such {what})", uri=loc.uri, code=code
        )
    return StorageError(f"S3 {operation} {loc.uri} failed: {code}: {message}", uri=loc.uri, code=code)
