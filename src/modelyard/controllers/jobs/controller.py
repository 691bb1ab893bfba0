"""The job controller: runs training and processing jobs in worker threads and keeps their records honest.

    notify(kind, account, region, name) ──► queue ──► worker thread ──► runner.run(JobRun)
    request_stop(...)                   ──► JobRun.stop_event: the container gets SIGTERM, then SIGKILL
    MaxRuntimeInSeconds                 ──► the same stop, with reason "timeout"
    start()   a job left InProgress/Stopping by an earlier server process ──► Failed (restart reason)
    stop()    server shutdown: containers are stopped, records are left for start() to settle

Runners write every transition through ``JobRun.update``, which reads the stored document and
merges the changes in one write transaction, so a Stop written by the API is never lost.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelyard.jobs.failures import truncate
from modelyard.runtime.containers import ContainerProcess
from modelyard.store.database import Database
from modelyard.store.resources import Record, get_record, records_of_kind, update_record

log = logging.getLogger("modelyard.controllers.jobs.controller")
Key = tuple[str, str, str, str]
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

    key: Key
    runner: JobRunner
    controller: JobController
    document: dict[str, Any]
    started: float = field(default_factory=time.time)
    stop_event: threading.Event = field(default_factory=threading.Event)
    stop_reason: str | None = None

    @property
    def name(self) -> str:
        """The job name."""
        return self.key[3]

    @property
    def account(self) -> str:
        """The job's account."""
        return self.key[1]

    @property
    def region(self) -> str:
        """The job's region."""
        return self.key[2]

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
        with self.controller.db.session(write=True) as conn:
            record = get_record(conn, self.account, self.region, self.runner.kind, self.name)
            if record is None:
                return self.document
            changes = change(record.document) if callable(change) else change
            if changes:
                now = time.time()
                document = {**record.document, **changes, "LastModifiedTime": now}
                document = {k: v for k, v in document.items() if v is not None}
                update_record(conn, record, document=document, modified_at=now,
                              status=document[self.runner.status_field])
                self.document = document
            else:
                self.document = record.document
        return self.document

    def stored_status(self) -> str | None:
        """The job's status as stored now."""
        with self.controller.db.session() as conn:
            record = get_record(conn, self.account, self.region, self.runner.kind, self.name)
        return None if record is None else record.document.get(self.runner.status_field)


class JobController:
    """Owns the running jobs of this server process (``workers`` run at once, the rest queue)."""

    def __init__(self, db: Database, runners: list[JobRunner], *, workers: int = 4,
                 stop_grace: float = 30.0) -> None:
        self.db = db
        self.runners = {runner.kind: runner for runner in runners}
        self.workers = workers
        self.stop_grace = stop_grace
        self.shutting_down = False
        self._queue: queue.Queue[Key | None] = queue.Queue()
        self._running: dict[Key, JobRun] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    async def start(self) -> None:
        """Settle jobs an earlier server process left running, then start the workers."""
        import asyncio

        await asyncio.to_thread(self.recover)
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"jobs-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    async def stop(self) -> None:
        """Server shutdown: stop every running container; records stay for the next start to settle."""
        import asyncio

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
            with self.db.session(write=True) as conn:
                for record in records_of_kind(conn, runner.kind):
                    if record.document.get(runner.status_field) in ACTIVE:
                        self._write_terminal(conn, runner, record, "Failed", RESTARTED, now)

    def notify(self, kind: str, account: str, region: str, name: str) -> None:
        """Thread-safe: a job was created; run it when a worker is free."""
        self._queue.put((kind, account, region, name))

    def request_stop(self, kind: str, account: str, region: str, name: str) -> None:
        """Thread-safe: the job's record says Stopping; end its container now if it runs."""
        with self._lock:
            run = self._running.get((kind, account, region, name))
        if run is not None:
            run.request_stop("stop")

    def running(self) -> list[Key]:
        """Keys of the jobs running now."""
        with self._lock:
            return list(self._running)

    def _work(self) -> None:
        while True:
            key = self._queue.get()
            if key is None or self.shutting_down:
                return
            try:
                self._run(key)
            except Exception:
                log.exception("job %s failed unexpectedly", key[3])

    def _run(self, key: Key) -> None:
        runner = self.runners[key[0]]
        with self.db.session() as conn:
            record = get_record(conn, key[1], key[2], runner.kind, key[3])
        if record is None:
            return
        run = JobRun(key, runner, self, record.document)
        with self._lock:
            self._running[key] = run
        try:
            status = run.stored_status()
            if status == "Stopping":
                self._end(run, "Stopped", None)
            elif status == "InProgress":
                self._execute(run)
        finally:
            with self._lock:
                self._running.pop(key, None)

    def _execute(self, run: JobRun) -> None:
        try:
            run.runner.run(run)
        except StopRequested as stop:
            if stop.reason != "shutdown":
                self._end(run, "Stopped", None)
        except Exception as exc:
            log.exception("job %s crashed", run.name)
            self._end(run, "Failed", f"InternalServerError: modelyard could not run the job: {exc}")

    def _end(self, run: JobRun, status: str, reason: str | None) -> None:
        now = time.time()
        run.update(lambda document: {} if document.get(run.runner.status_field) not in ACTIVE
                   else run.runner.terminal(document, status, reason, now))

    def _write_terminal(self, conn: Any, runner: JobRunner, record: Record, status: str, reason: str,
                        now: float) -> None:
        changes = runner.terminal(record.document, status, truncate(reason), now)
        document = {**record.document, **changes, "LastModifiedTime": now}
        document = {k: v for k, v in document.items() if v is not None}
        update_record(conn, record, document=document, modified_at=now, status=document[runner.status_field])
