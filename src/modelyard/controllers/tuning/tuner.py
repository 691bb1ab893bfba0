"""The tuner: one thread that drives every active tuning job from the store.

    every POLL_SECONDS or on notify():  each InProgress / Stopping tuning job
        InProgress  early stopping (Auto): stop running training jobs worse than their peers' median;
                    Hyperband: stop those outside the top 1/3 at a rung (random sampling)
                    launch training jobs while fewer than MaxParallelTrainingJobs run and fewer than
                    MaxNumberOfTrainingJobs were launched (a job lost to a server restart is not counted),
                    hyperparameters = static + the strategy's suggestion from the results so far
                    all launched and ended ─► Completed (some objective value) | Failed (none)
                    TargetObjectiveMetricValue reached ─► no more launches, then Completed
                    ResourceLimits.MaxRuntimeInSeconds passed ─► running jobs stopped, then Completed
        Stopping    stop the running training jobs ─► Stopped once none runs
        always      counters, BestTrainingJob (written only when they change)

All state is in the store (the tuning job's document and desired template, its training-job records), so a
restarted server goes on where the old one stopped: the job controller fails the training jobs that were
running, and the tuner replaces them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from modelyard.controllers.tuning.children import TUNING_KIND, Children, history, lost_to_restart
from modelyard.controllers.tuning.early_stopping import ObjectiveSeries
from modelyard.desired.tuning import TuningDesired
from modelyard.jobs.failures import truncate
from modelyard.jobs.tuning_early_stop import hyperband_should_stop, should_stop
from modelyard.jobs.tuning_progress import ACTIVE, Objective, best_summary, child_summary, status_counters
from modelyard.jobs.tuning_samplers import grid_point, preload_optimiser, suggest
from modelyard.jobs.tuning_space import SearchSpace, parse_space
from modelyard.store.database import Database
from modelyard.store.patches import Patch, patch_record
from modelyard.store.resources import Record, records_with_status

log = logging.getLogger("modelyard.controllers.tuning")
STATUS = "HyperParameterTuningJobStatus"
POLL_SECONDS = 0.2
EARLY_STOP_CHECK_SECONDS = 0.5


class Tuner:
    """Drives the tuning jobs of this server (``ports.Reconciler``: ``notify`` wakes it at once)."""

    def __init__(self, db: Database, children: Children, series: ObjectiveSeries,
                 poll_seconds: float = POLL_SECONDS) -> None:
        """``series`` reads training jobs' intermediate objective values (early stopping)."""
        self.db = db
        self.children = children
        self.series = series
        self.poll_seconds = poll_seconds
        self._early_checks: dict[str, float] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        """Start the tuner thread (after the job controller has settled jobs of an earlier process)."""
        self._thread = threading.Thread(target=self._loop, name="tuner", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Server shutdown: stop the thread; tuning jobs stay as stored for the next start."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)

    def notify(self, account: str, region: str, name: str) -> None:
        """Thread-safe: a tuning job was created or asked to stop."""
        self._wake.set()

    def wake(self, *_: object) -> None:
        """Thread-safe: something a tuning job waits on happened (a training job ended)."""
        self._wake.set()

    def _loop(self) -> None:
        preload_optimiser()
        while not self._stopping.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.pass_once()
            except Exception:
                log.exception("tuner pass failed")

    def pass_once(self) -> None:
        """Advance every active tuning job once."""
        with self.db.session() as conn:
            active = records_with_status(conn, TUNING_KIND, ("InProgress", "Stopping"))
        for record in active:
            if self._stopping.is_set():
                return
            try:
                self.advance(record)
            except Exception as exc:
                log.exception("tuning job %s failed", record.name)
                self._fail(record, f"InternalServerError: modelyard could not run the tuning job: {exc}")

    def advance(self, tuning: Record) -> None:
        """One step of one tuning job: launches or stops, then its counters and status."""
        document = tuning.document
        config = document["HyperParameterTuningJobConfig"]
        objective = Objective.of(config["HyperParameterTuningJobObjective"])
        space = parse_space(config["ParameterRanges"])
        limits = config["ResourceLimits"]
        desired = TuningDesired.from_json(tuning.desired)
        jobs = self.children.of(tuning)
        running = [j for j in jobs if j.get("TrainingJobStatus") in ACTIVE]
        counted = [j for j in jobs if not lost_to_restart(j)]
        summaries = [child_summary(j, tuning.name, space.names, objective) for j in jobs]
        best = best_summary(summaries, objective)
        target_reached = _target_reached(config, best, objective)
        out_of_time = _out_of_time(document, limits)
        status = document[STATUS]
        if status == "Stopping" or out_of_time:
            for job in running:
                if job["TrainingJobStatus"] == "InProgress":
                    self.children.stop(tuning, job)
        elif not target_reached:
            if config.get("TrainingJobEarlyStoppingType") == "Auto" or config["Strategy"] == "Hyperband":
                self._stop_early(tuning, objective, jobs, running)
            while len(running) < limits["MaxParallelTrainingJobs"] and len(counted) < limits["MaxNumberOfTrainingJobs"]:
                values = self._suggest(tuning, desired, space, objective, jobs, counted, limits)
                job = self.children.launch(tuning, desired.template, space, values, len(jobs) + 1)
                jobs.append(job)
                running.append(job)
                counted.append(job)
                summaries.append(child_summary(job, tuning.name, space.names, objective))
        changes: dict[str, Any] = status_counters(jobs, objective, lost_to_restart)
        if best is not None:
            changes["BestTrainingJob"] = best
        if not running:
            if status == "Stopping":
                changes.update(_ended(document, "Stopped"))
            elif target_reached or out_of_time or len(counted) >= limits["MaxNumberOfTrainingJobs"]:
                changes.update(_ended(document, "Completed") if best is not None
                               else _ended(document, "Failed", _no_objective(objective, jobs)))
        self._record(tuning, status, changes)

    def _stop_early(self, tuning: Record, objective: Objective, jobs: list[dict[str, Any]],
                    running: list[dict[str, Any]]) -> None:
        """Stop the running training jobs that early stopping (Auto: worse than the completed jobs' median) or
        Hyperband (outside the top 1/eta at a rung, or at MaxResource) says to stop."""
        now = time.monotonic()
        if now - self._early_checks.get(tuning.arn, 0.0) < EARLY_STOP_CHECK_SECONDS:
            return
        self._early_checks[tuning.arn] = now
        hyperband = (tuning.document["HyperParameterTuningJobConfig"].get("StrategyConfig") or {}).get(
            "HyperbandStrategyConfig")
        series = {job["TrainingJobName"]: self.series.values(tuning.account, tuning.region, job, objective.metric)
                  for job in jobs if job.get("TrainingJobStatus") in ("Completed", "Stopped", "InProgress")}
        finished = [series[job["TrainingJobName"]] for job in jobs if job.get("TrainingJobStatus") == "Completed"]
        for job in running:
            if job.get("TrainingJobStatus") != "InProgress":
                continue
            current = series[job["TrainingJobName"]]
            if hyperband:
                others = [values for name, values in series.items() if name != job["TrainingJobName"]]
                stop = hyperband_should_stop(current, others, objective.maximize, int(hyperband["MinResource"]),
                                             int(hyperband["MaxResource"]))
            else:
                stop = should_stop(current, finished, objective.maximize)
            if stop:
                log.info("stopping %s early at step %d", job["TrainingJobName"], len(current))
                self.children.stop(tuning, job)

    def _suggest(self, tuning: Record, desired: TuningDesired, space: SearchSpace, objective: Objective,
                 jobs: list[dict[str, Any]], counted: list[dict[str, Any]], limits: dict[str, Any]) -> dict[str, Any]:
        strategy = tuning.document["HyperParameterTuningJobConfig"]["Strategy"]
        if strategy == "Grid":
            return _next_grid_point(space, counted)
        observations = history(space, objective, jobs)
        if desired.parents:
            observations = self.children.parents_history(tuning, desired.parents, space, objective) + observations
        return suggest(strategy, space, index=len(jobs), seed=desired.seed, history=observations,
                       maximize=objective.maximize, budget=int(limits["MaxNumberOfTrainingJobs"]))

    def _record(self, tuning: Record, read_status: str, changes: dict[str, Any]) -> None:
        def patch(record: Record) -> Patch | None:
            if record.document.get(STATUS) != read_status:
                return None
            fresh = {key: value for key, value in changes.items() if record.document.get(key) != value}
            if not fresh:
                return None
            return Patch({**fresh, "LastModifiedTime": time.time()})

        with self.db.session(write=True) as conn:
            patch_record(conn, tuning.account, tuning.region, TUNING_KIND, tuning.name, patch, status_field=STATUS)

    def _fail(self, tuning: Record, reason: str) -> None:
        def patch(record: Record) -> Patch | None:
            if record.document.get(STATUS) not in ("InProgress", "Stopping"):
                return None
            return Patch({**_ended(record.document, "Failed", reason), "LastModifiedTime": time.time()})

        with self.db.session(write=True) as conn:
            patch_record(conn, tuning.account, tuning.region, TUNING_KIND, tuning.name, patch, status_field=STATUS)


def _ended(document: dict[str, Any], status: str, reason: str | None = None) -> dict[str, Any]:
    now = time.time()
    changes: dict[str, Any] = {STATUS: status, "HyperParameterTuningEndTime": now,
                               "ConsumedResources": {"RuntimeInSeconds": int(now - document["CreationTime"])}}
    if reason:
        changes["FailureReason"] = truncate(reason)
    return changes


def _out_of_time(document: dict[str, Any], limits: dict[str, Any]) -> bool:
    limit = limits.get("MaxRuntimeInSeconds")
    return limit is not None and time.time() - float(document["CreationTime"]) >= limit


def _target_reached(config: dict[str, Any], best: dict[str, Any] | None, objective: Objective) -> bool:
    target = (config.get("TuningJobCompletionCriteria") or {}).get("TargetObjectiveMetricValue")
    if target is None or best is None:
        return False
    value = best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    return bool(value >= target if objective.maximize else value <= target)


def _no_objective(objective: Objective, jobs: list[dict[str, Any]]) -> str:
    failures = [j.get("FailureReason") for j in jobs if j.get("FailureReason")]
    last = f"; the last failure: {failures[-1]}" if failures else ""
    return (f"None of the {len(jobs)} training jobs reported the objective metric '{objective.metric}' (check "
            f"its MetricDefinition's Regex against the training log){last}")


def _next_grid_point(space: SearchSpace, counted: list[dict[str, Any]]) -> dict[str, Any]:
    taken = {tuple((j.get("HyperParameters") or {}).get(name) for name in space.names) for j in counted}
    index = 0
    while True:
        values = grid_point(space, index)
        if tuple(str(values[name]) for name in space.names) not in taken:
            return values
        index += 1
        if index >= space.grid_size():
            raise RuntimeError("every grid point has been launched")

