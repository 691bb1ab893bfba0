"""Where a transform job reads and writes: the input objects and each one's ``.out`` location.

    S3Prefix      s3://b/in/         -> every object under it; relative key = rest of the key
                  s3://b/in/a.csv    -> that object alone;      relative key = a.csv
    ManifestFile  s3://b/m.manifest  -> [{"prefix": "s3://b/data/"}, "x/a.csv", ...]; relative = entry
    output        <S3OutputPath>/<relative key>.out

Local paths and ``file://`` URIs work wherever S3 URIs do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from modelyard.storage import ObjectInfo, ObjectStore, StorageError


class InputError(Exception):
    """The job's input cannot be listed; the message is the job's FailureReason."""


@dataclass(frozen=True)
class InputObject:
    """One object to transform and the key its output is named after."""

    uri: str
    relative: str


def list_inputs(store: ObjectStore, data_source: dict[str, Any]) -> list[InputObject]:
    """The input objects of ``TransformInput.DataSource.S3DataSource``, in key (or manifest) order."""
    kind, uri = data_source["S3DataType"], data_source["S3Uri"]
    try:
        if kind == "ManifestFile":
            return _manifest_inputs(store, uri)
        if kind != "S3Prefix":
            raise InputError(f"S3DataType {kind} is not supported for batch transform; use S3Prefix or "
                             "ManifestFile")
        objects = [InputObject(info.uri, _relative(store, uri, info)) for info in store.list(uri)]
    except StorageError as exc:
        raise InputError(f"Could not read the input at {uri}: {exc}") from None
    if not objects:
        raise InputError(f"No objects found under the input S3Uri {uri}; check the prefix and that "
                         "the data was uploaded")
    return objects


def _relative(store: ObjectStore, uri: str, info: ObjectInfo) -> str:
    loc = store.location(uri)
    if not loc.is_s3:
        return info.relative or loc.name
    if info.key == loc.key:
        return loc.name
    if loc.is_prefix or info.key.startswith(loc.key + "/"):
        return info.key[len(loc.key):].lstrip("/")
    parent = loc.key.rsplit("/", 1)[0] + "/" if "/" in loc.key else ""
    return info.key[len(parent):]


def _manifest_inputs(store: ObjectStore, uri: str) -> list[InputObject]:
    try:
        entries = json.loads(store.read_bytes(uri))
    except ValueError as exc:
        raise InputError(f"The manifest {uri} is not valid JSON: {exc}") from None
    if (not isinstance(entries, list) or not entries or not isinstance(entries[0], dict)
            or not isinstance(entries[0].get("prefix"), str)):
        raise InputError(f'The manifest {uri} must be a JSON list starting with {{"prefix": "s3://..."}} '
                         "followed by relative keys")
    prefix = store.location(entries[0]["prefix"])
    objects = []
    for entry in entries[1:]:
        if not isinstance(entry, str) or not entry or any(p in (".", "..") for p in entry.split("/")):
            raise InputError(f"The manifest {uri} has an entry that is not a relative key: {entry!r}")
        objects.append(InputObject(prefix.child(entry).uri, entry.lstrip("/")))
    if not objects:
        raise InputError(f"The manifest {uri} lists no objects")
    return objects


def output_uri(store: ObjectStore, output_path: str, relative: str) -> str:
    """Where the output of the object with ``relative`` key goes."""
    return store.location(output_path).child(relative + ".out").uri
