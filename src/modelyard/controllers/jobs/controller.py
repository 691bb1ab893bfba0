"""The job controller: runs training and processing jobs in worker threads and keeps their records honest.

    notify(kind, account, region, name) ──► JobFamily(kind).reconcile(key)   (KeyedReconciler)
        InProgress, not running ──► worker thread (``workers`` at once, the rest queue) ──► runner.run(JobRun)
        Stopping, not running   ──► Stopped
    request_stop(...)                   ──► JobRun.stop_event: the container gets SIGTERM, then SIGKILL
    MaxRuntimeInSeconds                 ──► the same stop, with reason "timeout"
    start()   a job left InProgress/Stopping by an earlier server process ──► Failed (restart reason)
    stop()    server shutdown: containers are stopped, records are left for start() to settle

Runners write every transition through ``JobRun.update`` (``patch_record``: the stored document is
read row-locked and the changes merged in one write transaction), so a Stop written by the API is
never lost.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelyard.controllers.reconciler import KeyedReconciler, ResourceKey
from modelyard.controllers.server_paths import ServerPaths
from modelyard.jobs.failures import truncate
from modelyard.runtime.containers import ContainerProcess
from modelyard.store.database import Database
from modelyard.store.patches import Patch, patch_record
from modelyard.store.resources import Record, get_record, records_of_kind

log = logging.getLogger("modelyard.controllers.jobs.controller")
RESTARTED = "The modelyard server restarted while the job was running; start it again"
ACTIVE = ("InProgress", "Stopping")
POLL_SECONDS = 0.1


class StopRequested(Exception):
    """The job must end now: ``reason`` is ``"stop"`` (StopJob), ``"timeout"`` or ``"shutdown"``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JobRunner(Protocol):
    """What the controller needs from one job family (training, processing)."""

    kind: str
    status_field: str

    def run(self, job: JobRun) -> None:
        """Run the job to a terminal state, writing every transition through ``job.update``."""

    def terminal(self, document: dict[str, Any], status: str, reason: str | None, now: float) -> dict[str, Any]:
        """The document changes that end a job as ``status`` (Failed, Stopped) with ``reason``."""

    def max_runtime(self, document: dict[str, Any]) -> float | None:
        """The job's MaxRuntimeInSeconds, or None."""


@dataclass
class JobRun:
    """One job being run: its identity, its stop signal and store access for its runner."""

    key: ResourceKey
    runner: JobRunner
    controller: JobController
    document: dict[str, Any]
    started: float = field(default_factory=time.time)
    stop_event: threading.Event = field(default_factory=threading.Event)
    stop_reason: str | None = None

    @property
    def name(self) -> str:
        """The job name."""
        return self.key.name

    @property
    def account(self) -> str:
        """The job's account."""
        return self.key.account

    @property
    def region(self) -> str:
        """The job's region."""
        return self.key.region

    @property
    def deadline(self) -> float | None:
        """When MaxRuntimeInSeconds runs out (epoch seconds), or None."""
        limit = self.runner.max_runtime(self.document)
        return self.started + limit if limit else None

    def request_stop(self, reason: str) -> None:
        """Ask the job to end (the first reason wins)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stop_event.set()

    def check(self) -> None:
        """Raise StopRequested when a stop was asked for or the runtime limit has passed."""
        deadline = self.deadline
        if deadline is not None and time.time() >= deadline:
            self.request_stop("timeout")
        if self.stop_event.is_set():
            raise StopRequested(self.stop_reason or "stop")

    def wait(self, process: ContainerProcess, grace: float | None = None) -> int | None:
        """Wait for the container; on a stop or timeout stop it (SIGTERM, grace, SIGKILL) and return None."""
        while True:
            code = process.wait(POLL_SECONDS)
            if code is not None:
                return code
            try:
                self.check()
            except StopRequested:
                process.stop(grace=self.controller.stop_grace if grace is None else grace)
                return None

    def update(self, change: Callable[[dict[str, Any]], dict[str, Any]] | dict[str, Any]) -> dict[str, Any]:
        """Merge changes into the stored document in one transaction; ``change`` may be a function of the
        stored document. Keys set to None are removed. Returns the new document (unchanged on shutdown)."""
        if self.controller.shutting_down:
            return self.document

        def patch(record: Record) -> Patch | None:
            changes = change(record.document) if callable(change) else change
            return Patch(self.controller.neutral_reason(changes)) if changes else None

        with self.controller.db.session(write=True) as conn:
            record = patch_record(conn, self.account, self.region, self.runner.kind, self.name, patch,
                                  status_field=self.runner.status_field)
        if record is not None:
            self.document = record.document
        return self.document

    def stored_status(self) -> str | None:
        """The job's status as stored now."""
        with self.controller.db.session() as conn:
            record = get_record(conn, self.account, self.region, self.runner.kind, self.name)
        return None if record is None else record.document.get(self.runner.status_field)


class JobFamily(KeyedReconciler):
    """The jobs of one runner kind: each notification hands an InProgress job to a worker thread."""

    def __init__(self, controller: JobController, runner: JobRunner) -> None:
        super().__init__(log)
        self.controller = controller
        self.runner = runner

    async def reconcile(self, key: ResourceKey) -> None:
        """Queue the job for a worker unless it is running or queued already."""
        self.controller.submit(self.runner, key)


class JobController:
    """Owns the running jobs of this server process (``workers`` run at once, the rest queue)."""

    def __init__(self, db: Database, runners: list[JobRunner], *, workers: int = 4,
                 stop_grace: float = 30.0, server_paths: ServerPaths | None = None) -> None:
        """``server_paths`` keeps host paths of the server's own files out of FailureReasons."""
        self.db = db
        self.server_paths = server_paths
        self.runners = {runner.kind: runner for runner in runners}
        self.families = {runner.kind: JobFamily(self, runner) for runner in runners}
        self.workers = workers
        self.stop_grace = stop_grace
        self.shutting_down = False
        self._queue: queue.Queue[tuple[JobRunner, ResourceKey] | None] = queue.Queue()
        self._queued: set[tuple[str, ResourceKey]] = set()
        self._running: dict[tuple[str, ResourceKey], JobRun] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._watchers: list[Callable[[str, ResourceKey], None]] = []

    async def start(self) -> None:
        """Settle jobs an earlier server process left running, then start the workers."""
        await asyncio.to_thread(self.recover)
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"jobs-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        for family in self.families.values():
            family.attach()

    async def stop(self) -> None:
        """Server shutdown: stop every running container; records stay for the next start to settle."""
        self.shutting_down = True
        with self._lock:
            runs = list(self._running.values())
        for run in runs:
            run.request_stop("shutdown")
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + 5.0
        for thread in self._threads:
            await asyncio.to_thread(thread.join, max(0.0, deadline - time.monotonic()))

    def recover(self) -> None:
        """Mark every job still InProgress or Stopping as Failed: its process died with the old server."""
        now = time.time()
        for runner in self.runners.values():
            with self.db.session() as conn:
                leftovers = [r for r in records_of_kind(conn, runner.kind) if r.document.get(runner.status_field)
                             in ACTIVE]
            for record in leftovers:
                self._end(runner, ResourceKey(record.account, record.region, record.name), "Failed",
                          truncate(RESTARTED), now)

    def watch(self, callback: Callable[[str, ResourceKey], None]) -> None:
        """Call ``callback(kind, key)`` in the worker thread each time a job's run ends (the tuner's wake-up)."""
        self._watchers.append(callback)

    def notify(self, kind: str, account: str, region: str, name: str) -> None:
        """Thread-safe: a job was created; run it when a worker is free."""
        self.families[kind].notify(account, region, name)

    def request_stop(self, kind: str, account: str, region: str, name: str) -> None:
        """Thread-safe: the job's record says Stopping; end its container now if it runs."""
        with self._lock:
            run = self._running.get((kind, ResourceKey(account, region, name)))
        if run is not None:
            run.request_stop("stop")

    def running(self) -> list[tuple[str, ResourceKey]]:
        """(kind, key) of the jobs running now."""
        with self._lock:
            return list(self._running)

    def submit(self, runner: JobRunner, key: ResourceKey) -> None:
        """Queue a job for a worker thread, unless it is queued or running already."""
        job = (runner.kind, key)
        with self._lock:
            if job in self._queued:
                return
            self._queued.add(job)
        self._queue.put((runner, key))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None or self.shutting_down:
                return
            runner, key = item
            try:
                self._run(runner, key)
            except Exception:
                log.exception("job %s failed unexpectedly", key.name)
            finally:
                with self._lock:
                    self._queued.discard((runner.kind, key))
                for callback in self._watchers:
                    callback(runner.kind, key)

    def _run(self, runner: JobRunner, key: ResourceKey) -> None:
        with self.db.session() as conn:
            record = get_record(conn, key.account, key.region, runner.kind, key.name)
        if record is None:
            return
        run = JobRun(key, runner, self, record.document)
        with self._lock:
            self._running[(runner.kind, key)] = run
        try:
            status = run.stored_status()
            if status == "Stopping":
                self._end_run(run, "Stopped", None)
            elif status == "InProgress":
                self._execute(run)
        finally:
            with self._lock:
                self._running.pop((runner.kind, key), None)

    def _execute(self, run: JobRun) -> None:
        try:
            run.runner.run(run)
        except StopRequested as stop:
            if stop.reason != "shutdown":
                self._end_run(run, "Stopped", None)
        except Exception as exc:
            log.exception("job %s crashed", run.name)
            self._end_run(run, "Failed", f"InternalServerError: modelyard could not run the job: {exc}")

    def neutral_reason(self, changes: dict[str, Any]) -> dict[str, Any]:
        """``changes`` with server paths in its FailureReason and status messages replaced by neutral names."""
        paths = self.server_paths
        if paths is None:
            return changes
        result = dict(changes)
        if isinstance(result.get("FailureReason"), str):
            result["FailureReason"] = paths.neutral(result["FailureReason"])
        transitions = result.get("SecondaryStatusTransitions")
        if isinstance(transitions, list):
            result["SecondaryStatusTransitions"] = [
                {**item, "StatusMessage": paths.neutral(item["StatusMessage"])}
                if isinstance(item, dict) and isinstance(item.get("StatusMessage"), str) else item
                for item in transitions]
        return result

    def _end_run(self, run: JobRun, status: str, reason: str | None) -> None:
        if not self.shutting_down:
            self._end(run.runner, run.key, status, reason, time.time())

    def _end(self, runner: JobRunner, key: ResourceKey, status: str, reason: str | None, now: float) -> None:
        """End an active job as ``status`` (a job that has ended already is left as it is)."""
        def ending(record: Record) -> Patch | None:
            if record.document.get(runner.status_field) not in ACTIVE:
                return None
            return Patch(self.neutral_reason(runner.terminal(record.document, status, reason, now)))

        with self.db.session(write=True) as conn:
            patch_record(conn, key.account, key.region, runner.kind, key.name, ending,
                         status_field=runner.status_field, now=now)
