"""SQL of CloudWatch metrics: series (one per exact dimension set) and their one-minute aggregates.

The metrics hub is the only writer (one flush at a time); readers are GetMetricStatistics,
GetMetricData, ListMetrics, the alarm evaluator and ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, delete, func, insert, select, tuple_, update

from modelyard.store.tables import metric_points, metric_series

SeriesName = tuple[str, str, str, str, str]
"""(account, region, namespace, metric name, canonical dimensions)."""

_CHUNK = 400


class PointRow(NamedTuple):
    """One stored minute of one series in one unit."""

    series_id: int
    minute: int
    unit: str
    sample_count: float
    total: float
    minimum: float
    maximum: float
    histogram: str | None


class SeriesRow(NamedTuple):
    """One stored series."""

    id: int
    namespace: str
    name: str
    dimensions: str
    last_minute: int


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def ensure_series(conn: Connection, wanted: dict[SeriesName, int]) -> dict[SeriesName, int]:
    """The id of each named series (created when new), its ``last_minute`` raised to the given minute."""
    ids: dict[SeriesName, int] = {}
    names = list(wanted)
    c = metric_series.c
    for chunk in _chunks(names):
        rows = conn.execute(select(c.id, c.account, c.region, c.namespace, c.name, c.dimensions, c.last_minute)
                            .where(tuple_(c.account, c.region, c.namespace, c.name, c.dimensions).in_(chunk)))
        for row in rows:
            key = (row.account, row.region, row.namespace, row.name, row.dimensions)
            ids[key] = row.id
            if wanted[key] > row.last_minute:
                conn.execute(update(metric_series).where(c.id == row.id).values(last_minute=wanted[key]))
    for name in names:
        if name not in ids:
            account, region, namespace, metric, dimensions = name
            result = conn.execute(insert(metric_series).values(
                account=account, region=region, namespace=namespace, name=metric, dimensions=dimensions,
                last_minute=wanted[name]))
            created = result.inserted_primary_key
            assert created is not None
            ids[name] = int(created[0])
    return ids


def series_ids(conn: Connection, names: Sequence[SeriesName]) -> dict[SeriesName, int]:
    """The ids of those named series that exist."""
    c = metric_series.c
    found: dict[SeriesName, int] = {}
    for chunk in _chunks(sorted(set(names))):
        rows = conn.execute(select(c.id, c.account, c.region, c.namespace, c.name, c.dimensions)
                            .where(tuple_(c.account, c.region, c.namespace, c.name, c.dimensions).in_(chunk)))
        found.update({(row.account, row.region, row.namespace, row.name, row.dimensions): row.id for row in rows})
    return found


def stored_points(conn: Connection, keys: Sequence[tuple[int, int, str]]) -> dict[tuple[int, int, str], PointRow]:
    """The stored rows among (series id, minute, unit) keys."""
    c = metric_points.c
    found: dict[tuple[int, int, str], PointRow] = {}
    for chunk in _chunks(keys):
        for row in conn.execute(select(*_POINT_COLUMNS).where(tuple_(c.series_id, c.minute, c.unit).in_(chunk))):
            point = PointRow(*row)
            found[(point.series_id, point.minute, point.unit)] = point
    return found


def write_points(conn: Connection, new: Sequence[PointRow], changed: Sequence[PointRow]) -> None:
    """Insert new rows and overwrite changed ones."""
    if new:
        conn.execute(insert(metric_points), [point._asdict() for point in new])
    c = metric_points.c
    for point in changed:
        conn.execute(update(metric_points)
                     .where(and_(c.series_id == point.series_id, c.minute == point.minute, c.unit == point.unit))
                     .values(sample_count=point.sample_count, total=point.total, minimum=point.minimum,
                             maximum=point.maximum, histogram=point.histogram))


_POINT_COLUMNS = (metric_points.c.series_id, metric_points.c.minute, metric_points.c.unit, metric_points.c.sample_count,
                  metric_points.c.total, metric_points.c.minimum, metric_points.c.maximum, metric_points.c.histogram)


def series_id(conn: Connection, name: SeriesName) -> int | None:
    """The id of a series, or None when nothing was ever stored for it."""
    account, region, namespace, metric, dimensions = name
    c = metric_series.c
    return conn.execute(select(c.id).where(c.account == account, c.region == region, c.namespace == namespace,
                                           c.name == metric, c.dimensions == dimensions)).scalar()


def points_between(conn: Connection, ids: Sequence[int], start_minute: int, end_minute: int, *,
                   unit: str | None = None, histograms: bool = True) -> list[PointRow]:
    """The rows of the series with minute in [start_minute, end_minute), in minute order (histograms
    read only when asked for)."""
    c = metric_points.c
    columns = _POINT_COLUMNS if histograms else _POINT_COLUMNS[:-1]
    query = select(*columns).where(c.series_id.in_(ids), c.minute >= start_minute, c.minute < end_minute)
    if unit is not None:
        query = query.where(c.unit == unit)
    rows = conn.execute(query.order_by(c.minute)).all()
    return [PointRow(*row) if histograms else PointRow(*row, None) for row in rows]  # type: ignore[call-arg]


PeriodTotals = tuple[int, int, float, float, float, float]
"""(series id, period start, sample count, sum, minimum, maximum) of one series' minutes in one period."""


def period_totals(conn: Connection, ids: Sequence[int], start_minute: int, end_minute: int, period: int, *,
                  unit: str | None = None) -> Sequence[PeriodTotals]:
    """Per series and period (periods aligned on ``start_minute``, minutes in [start_minute,
    end_minute)): sample count, sum, minimum and maximum, summed by the database. One-minute periods
    group by the stored minute itself, in the primary key's order."""
    c = metric_points.c
    slot = c.minute if period == 60 else (start_minute + (c.minute - start_minute) // period * period)
    query = (select(c.series_id, slot.label("slot"), func.sum(c.sample_count), func.sum(c.total),
                    func.min(c.minimum), func.max(c.maximum))
             .where(c.series_id.in_(ids), c.minute >= start_minute, c.minute < end_minute)
             .group_by(c.series_id, "slot"))
    if unit is not None:
        query = query.where(c.unit == unit)
    return conn.execute(query).tuples().all()


def list_series(conn: Connection, account: str, region: str, *, namespace: str | None, name: str | None,
                since_minute: int, after_id: int, limit: int) -> list[SeriesRow]:
    """Series of the account and region with data since ``since_minute``, by id after ``after_id``."""
    c = metric_series.c
    query = select(c.id, c.namespace, c.name, c.dimensions, c.last_minute).where(
        c.account == account, c.region == region, c.last_minute >= since_minute, c.id > after_id)
    if namespace is not None:
        query = query.where(c.namespace == namespace)
    if name is not None:
        query = query.where(c.name == name)
    return [SeriesRow(*row) for row in conn.execute(query.order_by(c.id).limit(limit))]


def prune(conn: Connection, before_minute: int) -> int:
    """Drop the minutes before ``before_minute`` and the series with nothing newer; rows dropped."""
    dropped = conn.execute(delete(metric_points).where(metric_points.c.minute < before_minute)).rowcount or 0
    stale = select(metric_series.c.id).where(metric_series.c.last_minute < before_minute)
    conn.execute(delete(metric_points).where(metric_points.c.series_id.in_(stale)))
    conn.execute(delete(metric_series).where(metric_series.c.last_minute < before_minute))
    return int(dropped)


class LatestPoint(NamedTuple):
    """One series' row of one minute, with the series' names."""

    region: str
    namespace: str
    name: str
    dimensions: str
    point: PointRow


def points_of_minute(conn: Connection, account: str, minute: int) -> list[LatestPoint]:
    """Every row of the account's series for ``minute`` (all regions), ordered by metric name."""
    s, p = metric_series.c, metric_points.c
    query = (select(s.region, s.namespace, s.name, s.dimensions, *_POINT_COLUMNS)
             .join_from(metric_series, metric_points, s.id == p.series_id)
             .where(s.account == account, s.last_minute >= minute, p.minute == minute)
             .order_by(s.name, s.namespace, s.id))
    return [LatestPoint(row[0], row[1], row[2], row[3], PointRow(*row[4:])) for row in conn.execute(query)]
