"""In-process controller tests: a real store (SQLite and PostgreSQL), services called directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.context import AppState, RequestContext
from modelyard.logstore import LogStore
from modelyard.settings import Settings
from modelyard.store.database import Database
from tests.support.databases import migrated_store

ACCOUNT = "000000000000"
REGION = "us-east-1"


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated store, on SQLite and then on PostgreSQL."""
    with migrated_store(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite store."""
    with migrated_store("sqlite", tmp_path) as database:
        yield database


class RecordingReconciler:
    """Test double of a controller as services see it: records the keys it was notified of."""

    def __init__(self) -> None:
        self.notified: list[tuple[str, str, str]] = []

    def notify(self, account: str, region: str, name: str) -> None:
        """Record the notification."""
        self.notified.append((account, region, name))


class RecordingJobs:
    """Test double of the job controller as services see it: records notifications and stop requests."""

    def __init__(self) -> None:
        self.notified: list[tuple[str, str, str, str]] = []
        self.stops: list[tuple[str, str, str, str]] = []

    def notify(self, kind: str, account: str, region: str, name: str) -> None:
        """Record the notification."""
        self.notified.append((kind, account, region, name))

    def request_stop(self, kind: str, account: str, region: str, name: str) -> None:
        """Record the stop request."""
        self.stops.append((kind, account, region, name))


def app_state(db: Database, tmp_path: Path) -> AppState:
    """Server state over ``db`` whose controllers are recording test doubles (no controller runs)."""
    return AppState(Settings(data_dir=tmp_path), db, LogStore(tmp_path / "logs"), RecordingReconciler(),
                    RecordingReconciler(), RecordingJobs())


def context(state: AppState) -> RequestContext:
    """A request in the test account and region."""
    return RequestContext(ACCOUNT, REGION, "request-id", state)
