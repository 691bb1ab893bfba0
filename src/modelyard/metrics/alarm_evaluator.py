"""The background task that evaluates every metric alarm every ``alarm_interval_seconds`` (then runs
what acts on alarm states: ``after_round``, the autoscaler).

    every interval, in a thread: each alarm -> its last EvaluationPeriods periods from the stored
    minutes (the current minute included) -> ``alarm_rules.evaluate`` -> a changed state is stored
    with its reason, unless the alarm was replaced or deleted meanwhile
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from modelyard.metrics.alarm_rules import Verdict, evaluate
from modelyard.metrics.hub import aggregates_of
from modelyard.metrics.series import dimensions_of, encode_dimensions
from modelyard.metrics.statistics import parse_statistic, per_period
from modelyard.settings import MetricsSettings
from modelyard.store import alarms as stored_alarms
from modelyard.store import metrics as stored
from modelyard.store.database import Database

log = logging.getLogger("modelyard.metrics")


def iso(timestamp: float) -> str:
    """An ISO 8601 UTC time with milliseconds, as CloudWatch writes them in StateReasonData."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + f".{int(timestamp * 1000) % 1000:03d}+0000"


class AlarmEvaluator:
    """Evaluates alarms continuously; ``evaluate_all`` is one round (blocking)."""

    def __init__(self, db: Database, settings: MetricsSettings) -> None:
        self.db = db
        self.settings = settings
        self.after_round: list[Callable[[], object]] = []
        """Run after each round in its thread (the autoscaler acts on the states just stored)."""
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the evaluation loop."""
        self._task = asyncio.create_task(self._loop(), name="alarm-evaluator")

    async def stop(self) -> None:
        """Stop the loop."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.alarm_interval_seconds)
            try:
                await asyncio.to_thread(self._round)
            except Exception:
                log.exception("alarm evaluation failed; retrying at the next interval")

    def _round(self) -> None:
        self.evaluate_all()
        for step in self.after_round:
            try:
                step()
            except Exception:
                log.exception("%s after the alarm evaluation failed; retrying at the next interval", step)

    def evaluate_all(self, now: float | None = None) -> int:
        """Evaluate every alarm once; how many changed state."""
        now = time.time() if now is None else now
        with self.db.session() as conn:
            alarms = stored_alarms.all_alarms(conn)
        changed = 0
        for alarm in alarms:
            try:
                changed += self._evaluate(alarm, now)
            except Exception:
                log.exception("evaluating alarm %s of %s failed", alarm.name, alarm.account)
        return changed

    def _evaluate(self, alarm: stored_alarms.AlarmRow, now: float) -> int:
        document = alarm.document
        verdict = evaluate(self.recent_values(alarm, now), operator=document["ComparisonOperator"],
                           threshold=document["Threshold"], datapoints_to_alarm=document["DatapointsToAlarm"],
                           treat_missing=document.get("TreatMissingData", "missing"), period=document["Period"])
        if verdict.state is None or verdict.state == document["StateValue"]:
            return 0
        with self.db.session(write=True) as conn:
            current = stored_alarms.get_alarm(conn, alarm.account, alarm.region, alarm.name)
            if current is None or current.document["AlarmConfigurationUpdatedTimestamp"] != document[
                    "AlarmConfigurationUpdatedTimestamp"] or current.state != alarm.state:
                return 0
            stored_alarms.update_alarm(conn, alarm.account, alarm.region,
                                       transitioned(current.document, verdict, now), now)
        return 1

    def recent_values(self, alarm: stored_alarms.AlarmRow, now: float,
                      periods: int | None = None) -> list[float | None]:
        """The alarm's statistic in each of its last ``periods`` periods (default EvaluationPeriods), oldest
        first, the current minute included; None where there is no data."""
        document = alarm.document
        period, count = document["Period"], periods or document["EvaluationPeriods"]
        statistic = parse_statistic(document.get("Statistic") or document["ExtendedStatistic"])
        end = int(now // 60) * 60 + 60
        start = end - period * count
        name = (alarm.account, alarm.region, document["Namespace"], document["MetricName"],
                encode_dimensions(dimensions_of(document.get("Dimensions"))))
        with self.db.session() as conn:
            series_id = stored.series_id(conn, name)
            rows = [] if series_id is None else stored.points_between(
                conn, [series_id], start, end, unit=document.get("Unit"), histograms=statistic.percent is not None)
        slots = per_period(((row.minute, aggregate) for row, aggregate in aggregates_of(rows)), start, period)
        return [statistic.of(slots[slot]) if slot in slots else None
                for slot in range(start, end, period)]


def transitioned(document: dict[str, Any], verdict: Verdict, now: float) -> dict[str, Any]:
    """The alarm's document in the verdict's state."""
    data: dict[str, Any] = {"version": "1.0", "queryDate": iso(now), "statistic": document.get("Statistic") or
                            document.get("ExtendedStatistic"), "period": document["Period"],
                            "recentDatapoints": verdict.recent, "threshold": document["Threshold"],
                            "evaluatedDatapoints": len(verdict.recent)}
    return {**document, "StateValue": verdict.state, "StateReason": verdict.reason,
            "StateReasonData": json.dumps(data), "StateUpdatedTimestamp": now, "StateTransitionedTimestamp": now}
