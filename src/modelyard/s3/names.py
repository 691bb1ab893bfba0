"""S3's rules for bucket names and keys."""

from __future__ import annotations

import re

from modelyard.s3.errors import InvalidArgument, InvalidBucketName, KeyTooLongError

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
MAX_KEY_BYTES = 1024


def check_bucket_name(name: str) -> str:
    """The name, or InvalidBucketName saying which rule it breaks."""
    reason = None
    if not 3 <= len(name) <= 63:
        reason = "must be 3 to 63 characters long"
    elif not _BUCKET.match(name):
        reason = "may hold only lower-case letters, digits, '.' and '-', and must begin and end with a letter or digit"
    elif ".." in name or ".-" in name or "-." in name:
        reason = "must not hold two adjacent periods, or a period next to a hyphen"
    elif _IP.match(name):
        reason = "must not be formatted as an IP address"
    elif name.startswith(("xn--", "sthree-")) or name.endswith(("-s3alias", "--ol-s3", "--x-s3")):
        reason = "must not use a prefix or suffix S3 reserves (xn--, sthree-, -s3alias, --ol-s3, --x-s3)"
    if reason:
        raise InvalidBucketName(f"The specified bucket is not valid: {name[:80]!r} {reason}.", BucketName=name[:80])
    return name


def check_key(key: str) -> str:
    """The key, or KeyTooLongError past 1,024 UTF-8 bytes (InvalidArgument when empty)."""
    if not key:
        raise InvalidArgument("An object key must not be empty")
    if "\x00" in key:
        raise InvalidArgument("modelyard's S3 does not accept object keys holding a NUL character")
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise KeyTooLongError(f"Your key is too long: {size} bytes, the limit is {MAX_KEY_BYTES}.",
                              Size=size, MaxSizeAllowed=MAX_KEY_BYTES)
    return key
