"""The transform controller: runs every InProgress transform job and records how it ends.

    notify(name) ──► handle(name)
        InProgress, not running -> TransformRun in a task -> Completed | Failed (reason names the files)
        Stopping                -> cancel the run (containers stop) -> Stopped
    start()  a job left InProgress by a previous server process -> Failed (it cannot resume);
             Stopping -> Stopped
    stop()   server shutdown: running jobs -> Failed, saying the server shut down

Every transition is written to the store with LastModifiedTime; TransformStartTime is set when the
containers are ready, TransformEndTime at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from modelyard.controllers.launcher import Launcher
from modelyard.controllers.preparation import Preparer
from modelyard.controllers.transform.run import Outcome, RunFailed, TransformRun
from modelyard.settings import Limits
from modelyard.storage import ObjectStore
from modelyard.store.database import Database
from modelyard.store.resources import get_record, records_of_kind, update_record

log = logging.getLogger("modelyard.controllers.transform.controller")
Key = tuple[str, str, str]
KIND = "transform-job"
MAX_REASON = 1024
RESTARTED = ("The modelyard server restarted while this transform job was running; the job cannot resume, "
             "and input files that had not finished have no .out output. Create the job again under a new "
             "name to rerun it.")
SHUT_DOWN = ("The modelyard server shut down while this transform job was running; input files that had not "
             "finished have no .out output. Create the job again under a new name to rerun it.")


def failure_reason(outcome: Outcome) -> str:
    """The FailureReason of a run in which some files failed: how many, then each file and why."""
    head = f"{len(outcome.failures)} of {outcome.files} input file(s) failed. "
    details = "; ".join(f"{uri}: {message}" for uri, message in outcome.failures)
    reason = head + details
    return reason if len(reason) <= MAX_REASON else reason[:MAX_REASON - 3] + "..."


class TransformController:
    """Owns the running transform jobs of this server process."""

    def __init__(self, db: Database, limits: Limits, preparer: Preparer, launcher: Launcher,
                 store: ObjectStore) -> None:
        self.db = db
        self.limits = limits
        self.preparer = preparer
        self.launcher = launcher
        self.store = store
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running: dict[Key, asyncio.Task[None]] = {}
        self._stopping: set[Key] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[Key, asyncio.Lock] = {}
        self._closing = False

    async def start(self) -> None:
        """Settle jobs a previous server process left behind, then accept notifications."""
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._recover)

    async def stop(self) -> None:
        """Server shutdown: stop every running job (each is recorded as Failed)."""
        self._closing = True
        running = list(self._running.values())
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=30)

    def notify(self, account: str, region: str, name: str) -> None:
        """Thread-safe: a job was created or asked to stop."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._spawn, self._handle((account, region, name)))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, key: Key) -> None:
        async with self._locks.setdefault(key, asyncio.Lock()):
            await self._act(key)

    async def _act(self, key: Key) -> None:
        record = await asyncio.to_thread(self._get, key)
        if record is None or self._closing:
            return
        if record.status == "InProgress" and key not in self._running:
            task = asyncio.create_task(self._execute(key, record.document))
            self._running[key] = task
            task.add_done_callback(lambda _: self._running.pop(key, None))
        elif record.status == "Stopping":
            running = self._running.get(key)
            if running is None:
                await asyncio.to_thread(self._finish, key, "Stopped", None)
            else:
                self._stopping.add(key)
                running.cancel()

    async def _execute(self, key: Key, job: dict[str, Any]) -> None:
        run = TransformRun(job, key[1], self.preparer, self.launcher, self.store,
                           self.limits.health_check_timeout_seconds)

        async def started() -> None:
            await asyncio.to_thread(self._write, key, {"TransformStartTime": time.time()})

        status, reason = "Completed", None
        try:
            outcome = await run.run(started)
            if outcome.failures:
                status, reason = "Failed", failure_reason(outcome)
        except RunFailed as exc:
            status, reason = "Failed", str(exc)[:MAX_REASON]
        except asyncio.CancelledError:
            status, reason = ("Stopped", None) if key in self._stopping else ("Failed", SHUT_DOWN)
        except Exception as exc:
            log.exception("transform job %s failed unexpectedly", key[2])
            status, reason = "Failed", f"Internal error in modelyard while running the job: {exc}"[:MAX_REASON]
        finally:
            self._stopping.discard(key)
        log.info("transform job %s: %s %s", key[2], status, reason or "")
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(asyncio.to_thread(self._finish, key, status, reason))

    # store access (blocking, run in threads)

    def _get(self, key: Key) -> Any:
        with self.db.session() as conn:
            return get_record(conn, key[0], key[1], KIND, key[2])

    def _write(self, key: Key, changes: dict[str, Any]) -> None:
        with self.db.session(write=True) as conn:
            record = get_record(conn, key[0], key[1], KIND, key[2])
            if record is None:
                return
            now = time.time()
            document = {**record.document, **changes, "LastModifiedTime": now}
            document = {k: v for k, v in document.items() if v is not None}
            update_record(conn, record, document=document, modified_at=now, status=document["TransformJobStatus"])

    def _finish(self, key: Key, status: str, reason: str | None) -> None:
        record = self._get(key)
        if record is not None and record.status == "Stopping":
            status, reason = "Stopped", None
        self._write(key, {"TransformJobStatus": status, "FailureReason": reason, "TransformEndTime": time.time()})

    def _recover(self) -> None:
        with self.db.session() as conn:
            leftovers = [r for r in records_of_kind(conn, KIND) if r.status in ("InProgress", "Stopping")]
        for record in leftovers:
            key = (record.account, record.region, record.name)
            if record.status == "Stopping":
                self._finish(key, "Stopped", None)
            else:
                self._finish(key, "Failed", RESTARTED)
