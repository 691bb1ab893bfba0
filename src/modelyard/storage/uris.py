"""Parse storage locations: ``s3://bucket/key``, ``file:///abs/path`` and plain paths.

    "s3://models/a/model.tar.gz"  -> Location(scheme="s3", bucket="models", key="a/model.tar.gz")
    "file:///srv/m/model.tar.gz"  -> Location(scheme="file", path=/srv/m/model.tar.gz)
    "./m" (relative to base_dir)  -> Location(scheme="file", path=<base_dir>/m)
"""

from __future__ import annotations

import os.path
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from modelyard.storage.errors import InvalidLocationError

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,253}[a-z0-9]$", re.IGNORECASE)
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
_USAGE = "use s3://bucket/key, file:///absolute/path or a filesystem path"


@dataclass(frozen=True)
class Location:
    """A parsed location: an S3 bucket + key, or a local filesystem path.

    For S3, ``key`` may be empty (the bucket root) or end with ``/`` (a prefix). For local
    locations ``path`` is absolute and ``trailing_slash`` remembers a written trailing ``/``.
    """

    scheme: str
    bucket: str = ""
    key: str = ""
    path: Path | None = None
    trailing_slash: bool = False

    @property
    def is_s3(self) -> bool:
        """True for ``s3://`` locations."""
        return self.scheme == "s3"

    @property
    def is_prefix(self) -> bool:
        """True when the location was written as a prefix/directory (ends with ``/``)."""
        if self.is_s3:
            return self.key == "" or self.key.endswith("/")
        return self.trailing_slash

    @property
    def uri(self) -> str:
        """The canonical URI (``s3://bucket/key`` or ``file:///abs/path``)."""
        if self.is_s3:
            return f"s3://{self.bucket}/{self.key}"
        suffix = "/" if self.trailing_slash and str(self.path) != "/" else ""
        return self.local_path.as_uri() + suffix

    @property
    def local_path(self) -> Path:
        """The filesystem path of a local location."""
        if self.path is None:
            raise InvalidLocationError(f"{self.uri} is not a local path", uri=self.uri)
        return self.path

    @property
    def name(self) -> str:
        """The last component of the key or path (empty for a bucket root)."""
        if self.is_s3:
            return PurePosixPath(self.key).name
        return self.local_path.name

    def child(self, relative: str) -> Location:
        """The location of ``relative`` (a ``/``-separated path) under this one."""
        relative = relative.lstrip("/")
        if self.is_s3:
            base = self.key if self.key == "" or self.key.endswith("/") else self.key + "/"
            return Location(scheme="s3", bucket=self.bucket, key=base + relative)
        return Location(scheme="file", path=self.local_path.joinpath(*relative.split("/")))

    def __str__(self) -> str:
        return self.uri


def parse_location(value: str | Path, *, base_dir: Path | None = None) -> Location:
    """Parse ``value`` into a :class:`Location`; raise :class:`InvalidLocationError` if unusable.

    Relative paths are resolved against ``base_dir`` (default: the current directory).
    """
    if isinstance(value, Path):
        return _local(value, base_dir, trailing_slash=False)
    if not isinstance(value, str):
        raise InvalidLocationError(f"location must be a string, not {type(value).__name__}; {_USAGE}")
    text = value.strip()
    if not text:
        raise InvalidLocationError(f"empty location; {_USAGE}", uri=value)
    match = _SCHEME.match(text)
    if match is None:
        if text.startswith(("s3:", "file:")):
            raise InvalidLocationError(f"malformed location {value!r}; {_USAGE}", uri=value)
        return _local(Path(text), base_dir, trailing_slash=text.endswith("/"))
    scheme = match.group(1).lower()
    if scheme == "s3":
        return _parse_s3(text)
    if scheme == "file":
        return _parse_file(text)
    raise InvalidLocationError(f"unsupported scheme {scheme!r} in {value!r}; {_USAGE}", uri=value)


def _parse_s3(text: str) -> Location:
    rest = text[len("s3://"):]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise InvalidLocationError(
            f"S3 location {text!r} has no bucket name; write it as s3://bucket/key", uri=text
        )
    if not _BUCKET.match(bucket):
        raise InvalidLocationError(
            f"S3 location {text!r} has an invalid bucket name {bucket!r}: bucket names are 3-255 "
            "characters of letters, digits, '.', '-' and '_' and start and end with a letter or digit",
            uri=text,
        )
    if any(ch in key for ch in "\x00\r\n"):
        raise InvalidLocationError(f"S3 key in {text!r} contains a control character", uri=text)
    return Location(scheme="s3", bucket=bucket, key=key)


def _parse_file(text: str) -> Location:
    parts = urlsplit(text)
    if parts.netloc not in ("", "localhost"):
        raise InvalidLocationError(
            f"file location {text!r} names host {parts.netloc!r}; only local files are supported "
            "(write file:///absolute/path)",
            uri=text,
        )
    if parts.query or parts.fragment:
        raise InvalidLocationError(f"file location {text!r} must not have a query or fragment", uri=text)
    raw = unquote(parts.path)
    if not raw.startswith("/"):
        raise InvalidLocationError(f"file location {text!r} must hold an absolute path", uri=text)
    return _local(Path(raw), None, trailing_slash=raw.endswith("/"))


def _local(path: Path, base_dir: Path | None, *, trailing_slash: bool) -> Location:
    if "\x00" in str(path):
        raise InvalidLocationError(f"path {str(path)!r} contains a NUL character", uri=str(path))
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    path = Path(os.path.normpath(str(path)))
    return Location(scheme="file", path=path, trailing_slash=trailing_slash)

