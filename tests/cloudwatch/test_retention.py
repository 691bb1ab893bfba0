"""The metrics hub's writes and retention against the real stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.metrics.hub import MetricsHub
from modelyard.metrics.series import SeriesKey, encode_dimensions
from modelyard.settings import MetricsSettings
from modelyard.store import metrics as stored
from modelyard.store.database import Database
from tests.support.server import create_pg_database, drop_pg_database


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database.connect(f"sqlite:///{tmp_path / 'metrics.db'}")
        yield database
        database.dispose()
        return
    url, name = create_pg_database()
    database = Database.connect(url)
    yield database
    database.dispose()
    drop_pg_database(name)


def _minutes(db: Database, series: SeriesKey) -> list[int]:
    name = (series.account, series.region, series.namespace, series.name, encode_dimensions(series.dimensions))
    with db.session() as conn:
        series_id = stored.series_id(conn, name)
        return [] if series_id is None else [row.minute for row in
                                             stored.points_between(conn, [series_id], 0, 2**40, histograms=False)]


def test_flushes_merge_into_the_stored_minute_and_old_minutes_are_pruned(db: Database) -> None:
    hub = MetricsHub(db, MetricsSettings(retention_days=1.0))
    series = SeriesKey("000000000000", "us-east-1", "App/x", "M", (("Host", "a"),))
    now = time.time()
    hub.buffer.put_values(series, now, "None", [1.0, 2.0])
    hub.write_pending()
    hub.buffer.put_values(series, now, "None", [3.0])
    hub.buffer.put_values(series, now - 3 * 86400, "None", [9.0])
    hub._pruned_at = 0.0
    hub.write_pending()
    minute = int(now // 60) * 60
    assert _minutes(db, series) == [minute], "the three-day-old minute is past the one-day retention"
    with db.session() as conn:
        name = (series.account, series.region, series.namespace, series.name, encode_dimensions(series.dimensions))
        series_id = stored.series_id(conn, name)
        assert series_id is not None
        row = stored.points_between(conn, [series_id], minute, minute + 60)[0]
    assert (row.sample_count, row.total, row.minimum, row.maximum) == (3, 6.0, 1.0, 3.0)


def test_a_failed_write_keeps_the_points_for_the_next_flush(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = MetricsHub(db, MetricsSettings())
    series = SeriesKey("000000000000", "us-east-1", "App/x", "Kept", ())
    now = time.time()
    hub.buffer.put_values(series, now, "None", [1.0, 2.0])

    def store_down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("store down")

    monkeypatch.setattr(stored, "write_points", store_down)
    with pytest.raises(ConnectionError):
        hub.write_pending()
    monkeypatch.undo()
    hub.buffer.put_values(series, now, "None", [3.0])
    hub.write_pending()
    name = (series.account, series.region, series.namespace, series.name, encode_dimensions(series.dimensions))
    with db.session() as conn:
        series_id = stored.series_id(conn, name)
        assert series_id is not None
        row = stored.points_between(conn, [series_id], 0, 2**40)[0]
    assert (row.sample_count, row.total) == (3, 6.0)
