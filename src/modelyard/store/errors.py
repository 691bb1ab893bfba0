"""Store-level errors; services translate them into AWS errors."""

from __future__ import annotations


class StoreError(Exception):
    """Base class for store errors."""


class DuplicateKey(StoreError):
    """A uniqueness constraint refused the write (the resource exists already)."""


class SchemaMismatch(StoreError):
    """The database schema is not at the revision this modelyard expects."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or is locked."""
