"""The database handle and the one managed-session helper.

    db = Database.connect(url)            # migrates to head, checks the history is linear
    with db.session(write=True) as conn:  # commits on success, rolls back on error
        resources.insert(conn, ...)       # IntegrityError -> DuplicateKey

SQLite runs in WAL mode; write transactions take the write lock up front (``BEGIN IMMEDIATE``)
so concurrent writers queue instead of failing. PostgreSQL works by URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import IntegrityError, OperationalError

from modelyard.store.errors import DuplicateKey, StoreUnavailable
from modelyard.store.migrations_runner import upgrade_to_head


def _normalize_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        mode = "IMMEDIATE" if conn.info.get("write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """A connected, migrated database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"

    @classmethod
    def connect(cls, url: str, *, migrate: bool = True) -> Database:
        """Open the database at ``url``, creating a SQLite file's directory, and migrate it to head."""
        url = _normalize_url(url)
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                                   pool_size=16, max_overflow=16)
            _configure_sqlite(engine)
        else:
            engine = create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=True)
        db = cls(engine)
        if migrate:
            upgrade_to_head(engine)
        return db

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Connection]:
        """A transaction: commit on success, roll back on any error; constraint errors -> DuplicateKey."""
        try:
            with self.engine.connect() as conn:
                conn.info["write"] = write
                try:
                    with conn.begin():
                        yield conn
                finally:
                    conn.info.pop("write", None)
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from exc
        except OperationalError as exc:
            raise StoreUnavailable(f"database error: {exc.orig}") from exc

    def ping(self) -> None:
        """Fail with StoreUnavailable when the database does not answer."""
        with self.session() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
