"""Listing keys the way S3 does: by code point, under a prefix, rolled up at a delimiter into common
prefixes, paged by a marker (V1), a start-after or continuation token (V2).

A common prefix is skipped in one query: the next scan starts at the prefix with its last character
incremented, past every key it covers.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from modelyard.s3.catalog import Catalog
from modelyard.s3.errors import InvalidArgument
from modelyard.store.s3_rows import ObjectRecord

SCAN_BATCH = 1000


@dataclass
class Listing:
    """One page: objects and common prefixes in key order, and where the next page starts."""

    objects: list[ObjectRecord] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str = ""
    """The last key or common prefix on the page (the next page starts after it)."""


def _after(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def list_keys(catalog: Catalog, bucket: str, prefix: str, delimiter: str, after: str, max_keys: int) -> Listing:
    """Up to ``max_keys`` entries with ``prefix``, after the key ``after``."""
    page = Listing()
    if max_keys <= 0:
        return page
    start, inclusive = (after, False) if after > prefix else (prefix, True)
    if after and delimiter and after.startswith(prefix):
        rest = after[len(prefix):]
        cut = rest.find(delimiter)
        if cut >= 0 and after.endswith(delimiter) and cut + len(delimiter) == len(rest):
            start, inclusive = _after(after), True
    while True:
        batch = catalog.scan(bucket, start, inclusive, SCAN_BATCH)
        if not batch:
            return page
        for record in batch:
            key = record.key
            if not key.startswith(prefix):
                if key > prefix:
                    return page
                continue
            entry: str | None = None
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    entry = key[: cut + len(delimiter)]
            if len(page.objects) + len(page.prefixes) >= max_keys:
                page.truncated = True
                return page
            if entry is not None:
                page.prefixes.append(entry)
                page.last = entry
                start, inclusive = _after(entry), True
                break
            page.objects.append(record)
            page.last = key
            start, inclusive = key, False
        else:
            if len(batch) < SCAN_BATCH:
                return page


def encode_token(key: str) -> str:
    """An opaque continuation token naming where the next page starts."""
    return base64.urlsafe_b64encode(key.encode("utf-8", "surrogatepass")).decode()


def decode_token(token: str) -> str:
    """The key a continuation token names; InvalidArgument when it is not one of ours."""
    try:
        key = base64.urlsafe_b64decode(token.encode()).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        key = None
    if key is None or not key or encode_token(key) != token:
        raise InvalidArgument("The continuation token provided is incorrect", ArgumentName="continuation-token")
    return key
