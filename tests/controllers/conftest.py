"""In-process controller tests: a real store (SQLite and PostgreSQL), services called directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.services.context import AppState, RequestContext
from modelyard.settings import Settings
from modelyard.store.database import Database
from tests.support.server import create_pg_database, drop_pg_database

ACCOUNT = "000000000000"
REGION = "us-east-1"


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated store, on SQLite and then on PostgreSQL."""
    if request.param == "sqlite":
        database = Database.connect(f"sqlite:///{tmp_path / 'store.db'}")
        yield database
        database.dispose()
    else:
        url, name = create_pg_database()
        database = Database.connect(url)
        yield database
        database.dispose()
        drop_pg_database(name)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite store."""
    database = Database.connect(f"sqlite:///{tmp_path / 'store.db'}")
    yield database
    database.dispose()


def app_state(db: Database, tmp_path: Path) -> AppState:
    """Server state over ``db`` with no controller installed."""
    return AppState(Settings(data_dir=tmp_path), db)


def context(state: AppState) -> RequestContext:
    """A request in the test account and region."""
    return RequestContext(ACCOUNT, REGION, "request-id", state)
