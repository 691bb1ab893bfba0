"""Job data in and out: stage inputs into a job's directory, upload its outputs.

    S3Prefix      s3://b/train/  (or file:///srv/train, /srv/train) ──► every object below, relative paths kept
    ManifestFile  [{"prefix": "s3://b/p/"}, "a.csv", "sub/b.csv"]     ──► each listed object
    Gzip          each staged file is decompressed in place (a ".gz" suffix is dropped)

Errors are ``JobDataError`` with a message fit for a FailureReason: it names the URI and the channel.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

from modelyard.storage import ObjectStore, StorageError, pack_dir

COPY_CHUNK = 1024 * 1024


class JobDataError(Exception):
    """Input could not be staged or output could not be written; the message is a FailureReason."""


def stage(store: ObjectStore, *, uri: str, data_type: str, dest: Path, compression: str | None,
          what: str) -> list[Path]:
    """Download the data of one channel or processing input into ``dest``; the files written."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if data_type == "S3Prefix":
            files = store.download_prefix(uri, dest)
        elif data_type == "ManifestFile":
            files = _stage_manifest(store, uri, dest, what)
        else:
            raise JobDataError(f"ClientError: {what}: S3DataType {data_type} is not supported by modelyard; "
                               "use S3Prefix or ManifestFile")
    except StorageError as exc:
        raise JobDataError(f"ClientError: Data download failed: no data could be read from {uri} given in {what}: "
                           f"{exc}. Check that the URI exists and that objects exist under it.") from None
    if compression == "Gzip":
        files = [_gunzip(path, uri, what) for path in files]
    return files


def _stage_manifest(store: ObjectStore, uri: str, dest: Path, what: str) -> list[Path]:
    try:
        entries = json.loads(store.read_bytes(uri))
    except ValueError as exc:
        raise JobDataError(f"ClientError: the manifest file {uri} given in {what} is not valid JSON: {exc}") from None
    if not (isinstance(entries, list) and entries and isinstance(entries[0], dict) and "prefix" in entries[0]):
        raise JobDataError(f'ClientError: the manifest file {uri} given in {what} must be a JSON list starting '
                           'with {"prefix": "s3://bucket/prefix/"} followed by relative keys')
    prefix = str(entries[0]["prefix"])
    files = []
    for relative in entries[1:]:
        parts = [part for part in str(relative).split("/") if part]
        if not parts or any(part in (".", "..") for part in parts):
            raise JobDataError(f"ClientError: the manifest file {uri} lists an unsafe key {relative!r}")
        source = prefix + ("" if prefix.endswith("/") else "/") + "/".join(parts)
        target = dest.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        files.append(store.download(source, target))
    return files


def _gunzip(path: Path, uri: str, what: str) -> Path:
    target = path.with_suffix("") if path.suffix == ".gz" else path
    temporary = path.with_name(f".{path.name}.gunzip")
    try:
        with gzip.open(path, "rb") as source, open(temporary, "wb") as sink:
            shutil.copyfileobj(source, sink, COPY_CHUNK)
    except (OSError, EOFError) as exc:
        temporary.unlink(missing_ok=True)
        raise JobDataError(f"ClientError: {path.name} from {uri} in {what} is not gzip data "
                           f"(CompressionType is Gzip): {exc}") from None
    path.unlink()
    os.replace(temporary, target)
    return target


def upload_tarball(store: ObjectStore, directory: Path, work: Path, uri: str) -> str:
    """Pack ``directory`` to a tar.gz in ``work`` and store it at ``uri`` (one object, complete or absent)."""
    directory.mkdir(parents=True, exist_ok=True)
    archive = pack_dir(directory, work / Path(uri.rstrip("/")).name)
    try:
        return store.upload_file(archive, uri)
    except StorageError as exc:
        raise JobDataError(f"ClientError: could not write {uri}: {exc}") from None
    finally:
        archive.unlink(missing_ok=True)


def upload_directory(store: ObjectStore, directory: Path, uri: str, what: str) -> list[str]:
    """Store every file below ``directory`` under the prefix ``uri``."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        return store.upload_dir(directory, uri if uri.endswith("/") else uri + "/")
    except StorageError as exc:
        raise JobDataError(f"ClientError: could not upload {what} to {uri}: {exc}") from None


def join_uri(base: str, *parts: str) -> str:
    """``base`` (an S3 URI, file URI or path) with ``parts`` appended by ``/``."""
    return "/".join([base.rstrip("/"), *(part.strip("/") for part in parts)])
