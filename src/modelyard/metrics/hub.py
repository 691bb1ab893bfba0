"""The metrics hub: where every metric is put, and the loop that writes them to the store.

    invoke path -> EndpointMeter.record        (event loop, no I/O)
    PutMetricData, training logs, samplers -> MetricBuffer.put_*
    every ``flush_seconds``: drain the meter on the loop, then in a thread: merge into stored minutes
    every ``PRUNE_SECONDS``: drop minutes older than the retention
A write that fails (the store is down) puts its aggregates back into the buffer for the next flush.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor

from modelyard.metrics.aggregate import Aggregate
from modelyard.metrics.buffer import MetricBuffer, PointKey
from modelyard.metrics.endpoint_meter import EndpointMeter, Tally, TallyKey, endpoint_points
from modelyard.metrics.histogram import Histogram
from modelyard.metrics.series import encode_dimensions
from modelyard.settings import MetricsSettings
from modelyard.store import metrics as stored
from modelyard.store.database import Database

log = logging.getLogger("modelyard.metrics")

PRUNE_SECONDS = 600.0
Sampler = Callable[[MetricBuffer], None]
"""Puts periodic readings (instance utilization) into the buffer; called from the flush thread."""


class MetricsHub:
    """Owns the buffer and the endpoint meter, and writes them to the store periodically."""

    def __init__(self, db: Database, settings: MetricsSettings, executor: Executor | None = None) -> None:
        self.db = db
        self.settings = settings
        self.buffer = MetricBuffer()
        self.meter = EndpointMeter()
        self.samplers: list[Sampler] = []
        self._executor = executor
        self._task: asyncio.Task[None] | None = None
        self._pruned_at = 0.0
        self._sampled_at = 0.0

    async def start(self) -> None:
        """Start the flush loop."""
        self._task = asyncio.create_task(self._loop(), name="metrics-flush")

    async def stop(self) -> None:
        """Stop the loop and write what is pending."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.flush()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.flush_seconds)
            try:
                await self.flush()
            except Exception:
                log.exception("metrics flush failed; retrying at the next interval")

    async def flush(self) -> None:
        """Drain the meter here (on the loop) and write everything pending in a thread."""
        tallies = self.meter.drain()
        await asyncio.get_running_loop().run_in_executor(self._executor, self.write_pending, tallies)

    def write_pending(self, tallies: dict[TallyKey, Tally] | None = None) -> int:
        """Sample, merge the buffer (and drained tallies) into the stored minutes, prune when due;
        the number of minute rows written."""
        now = time.time()
        if self.samplers and now - self._sampled_at >= self.settings.instance_sample_seconds:
            self._sampled_at = now
            for sampler in self.samplers:
                try:
                    sampler(self.buffer)
                except Exception:
                    log.exception("metrics sampler failed")
        points = self.buffer.take()
        for key, aggregate in endpoint_points(tallies or {}):
            _fold(points, key, aggregate)
        try:
            written = self._write(points) if points else 0
        except Exception:
            for key, aggregate in points.items():
                self.buffer.put_aggregate(key, aggregate)
            raise
        if now - self._pruned_at >= PRUNE_SECONDS:
            self._pruned_at = now
            cutoff = int((now - self.settings.retention_days * 86400) // 60) * 60
            with self.db.session(write=True) as conn:
                stored.prune(conn, cutoff)
        return written

    def _write(self, points: dict[PointKey, Aggregate]) -> int:
        names: dict[PointKey, stored.SeriesName] = {}
        latest: dict[stored.SeriesName, int] = {}
        for key in points:
            series, minute, _ = key
            name = (series.account, series.region, series.namespace, series.name,
                    encode_dimensions(series.dimensions))
            names[key] = name
            latest[name] = max(latest.get(name, minute), minute)
        with self.db.session(write=True) as conn:
            ids = stored.ensure_series(conn, latest)
            rows = {(ids[names[key]], key[1], key[2]): aggregate for key, aggregate in points.items()}
            existing = stored.stored_points(conn, list(rows))
            new: list[stored.PointRow] = []
            changed: list[stored.PointRow] = []
            for (series_id, minute, unit), aggregate in rows.items():
                before = existing.get((series_id, minute, unit))
                merged = aggregate
                if before is not None:
                    merged = _aggregate_of(before)
                    merged.merge(aggregate)
                row = stored.PointRow(series_id, minute, unit, merged.count, merged.total, merged.minimum,
                                      merged.maximum,
                                      merged.histogram.encode() if merged.histogram is not None else None)
                (changed if before is not None else new).append(row)
            stored.write_points(conn, new, changed)
        return len(rows)


def _fold(points: dict[PointKey, Aggregate], key: PointKey, aggregate: Aggregate) -> None:
    mine = points.get(key)
    if mine is None:
        points[key] = aggregate
    else:
        mine.merge(aggregate)


def _aggregate_of(row: stored.PointRow) -> Aggregate:
    histogram = Histogram.decode(row.histogram) if row.histogram is not None else None
    return Aggregate(row.sample_count, row.total, row.minimum, row.maximum, histogram)


def aggregates_of(rows: Iterable[stored.PointRow]) -> Iterable[tuple[stored.PointRow, Aggregate]]:
    """Each stored row with its aggregate."""
    for row in rows:
        yield row, _aggregate_of(row)
