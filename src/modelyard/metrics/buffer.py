"""The in-memory minute aggregates waiting to be written: cheap to add to, swapped out whole to flush."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from modelyard.metrics.aggregate import Aggregate
from modelyard.metrics.series import SeriesKey, minute_of

PointKey = tuple[SeriesKey, int, str]
"""(series, minute, unit)."""


class MetricBuffer:
    """Aggregates by (series, minute, unit); thread-safe (one short, uncontended lock per put)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._points: dict[PointKey, Aggregate] = {}

    def _slot(self, series: SeriesKey, timestamp: float, unit: str) -> Aggregate:
        key = (series, minute_of(timestamp), unit)
        aggregate = self._points.get(key)
        if aggregate is None:
            aggregate = self._points[key] = Aggregate()
        return aggregate

    def put_values(self, series: SeriesKey, timestamp: float, unit: str, values: Sequence[float],
                   counts: Sequence[float] | None = None) -> None:
        """Add samples (each ``counts`` times when given)."""
        with self._lock:
            self._slot(series, timestamp, unit).add_values(values, counts)

    def put_statistic_set(self, series: SeriesKey, timestamp: float, unit: str, count: float, total: float,
                          minimum: float, maximum: float) -> None:
        """Add a statistic set."""
        with self._lock:
            self._slot(series, timestamp, unit).add_statistic_set(count, total, minimum, maximum)

    def put_aggregate(self, key: PointKey, aggregate: Aggregate) -> None:
        """Fold a whole aggregate in."""
        with self._lock:
            mine = self._points.get(key)
            if mine is None:
                self._points[key] = aggregate
            else:
                mine.merge(aggregate)

    def take(self) -> dict[PointKey, Aggregate]:
        """Everything added since the last take; the buffer starts empty again."""
        with self._lock:
            points, self._points = self._points, {}
        return points
