"""Migrated metadata stores for in-process tests: SQLite in a temporary directory, or a fresh database on
the PostgreSQL at 127.0.0.1:5432."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelyard.store.database import Database
from tests.support.server import create_pg_database, drop_pg_database


@contextmanager
def migrated_store(kind: str, tmp_path: Path) -> Iterator[Database]:
    """A migrated store of ``kind`` (``sqlite`` or ``postgres``), disposed (and dropped) afterwards."""
    if kind == "sqlite":
        database = Database.connect(f"sqlite:///{tmp_path / 'store.db'}")
        yield database
        database.dispose()
        return
    url, name = create_pg_database()
    database = Database.connect(url)
    try:
        yield database
    finally:
        database.dispose()
        drop_pg_database(name)
