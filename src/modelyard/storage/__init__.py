"""Storage: locations (``s3://``, ``file://``, paths), the object store, safe tarballs, the artifact cache."""

from __future__ import annotations

from modelyard.storage.backend import ObjectInfo
from modelyard.storage.cache import ArtifactCache
from modelyard.storage.errors import (
    ArtifactNotFoundError,
    InvalidArchiveError,
    InvalidLocationError,
    StorageError,
    UnsafeArchiveError,
)
from modelyard.storage.objects import ObjectStore
from modelyard.storage.tarballs import pack_dir, safe_extract
from modelyard.storage.uris import Location, parse_location

__all__ = [
    "ArtifactCache",
    "ArtifactNotFoundError",
    "InvalidArchiveError",
    "InvalidLocationError",
    "Location",
    "ObjectInfo",
    "ObjectStore",
    "StorageError",
    "UnsafeArchiveError",
    "pack_dir",
    "parse_location",
    "safe_extract",
]
