"""The transform controller: runs every InProgress transform job and records how it ends.

    notify(account, region, name) ──► reconcile(key)   (KeyedReconciler: one pass at a time per job)
        InProgress, not running -> TransformRun in a task -> Completed | Failed (reason names the files)
        Stopping                -> cancel the run (containers stop) -> Stopped
    start()  a job left InProgress by a previous server process -> Failed (it cannot resume);
             Stopping -> Stopped
    stop()   server shutdown: running jobs -> Failed, saying the server shut down

Every transition is one guarded read-modify-write (``patch_record``) with LastModifiedTime;
TransformStartTime is set when the containers are ready, TransformEndTime at the end. The end is
decided inside that write, so a StopTransformJob that lands first turns it into Stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from modelyard.controllers.launcher import Launcher
from modelyard.controllers.placement import InstancePlacement
from modelyard.controllers.preparation import Preparer
from modelyard.controllers.reconciler import KeyedReconciler, ResourceKey
from modelyard.controllers.server_paths import ServerPaths
from modelyard.controllers.transform.run import Outcome, RunFailed, TransformRun
from modelyard.desired.transform import TransformDesired
from modelyard.settings import Limits
from modelyard.storage import ObjectStore
from modelyard.store.database import Database
from modelyard.store.patches import Patch, patch_record
from modelyard.store.resources import Record, get_record, records_of_kind

log = logging.getLogger("modelyard.controllers.transform.controller")
KIND = "transform-job"
MAX_REASON = 1024
ACTIVE = ("InProgress", "Stopping")
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


class TransformController(KeyedReconciler):
    """Owns the running transform jobs of this server process."""

    def __init__(self, db: Database, limits: Limits, preparer: Preparer, launcher: Launcher,
                 store: ObjectStore, *, server_paths: ServerPaths | None = None,
                 placement: InstancePlacement | None = None) -> None:
        """``server_paths`` keeps host paths of the server's own files out of FailureReasons; ``placement``
        starts single-container instances (a Ray cluster's nodes; default: ``launcher``, this machine)."""
        super().__init__(log)
        self.server_paths = server_paths or ServerPaths(None)
        self.db = db
        self.limits = limits
        self.preparer = preparer
        self.launcher = launcher
        self.placement: InstancePlacement = placement or launcher
        self.store = store
        self._running: dict[ResourceKey, asyncio.Task[None]] = {}
        self._stopping: set[ResourceKey] = set()
        self._closing = False

    async def start(self) -> None:
        """Settle jobs a previous server process left behind, then accept notifications."""
        self.attach()
        await asyncio.to_thread(self._recover)

    async def stop(self) -> None:
        """Server shutdown: stop every running job (each is recorded as Failed)."""
        self._closing = True
        running = list(self._running.values())
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=30)

    async def reconcile(self, key: ResourceKey) -> None:
        """Start an InProgress job that is not running; stop a Stopping one."""
        record = await asyncio.to_thread(self._get, key)
        if record is None or self._closing:
            return
        if record.status == "InProgress" and key not in self._running:
            task = self.spawn(self._execute(key, record))
            self._running[key] = task
            task.add_done_callback(lambda _: self._running.pop(key, None))
        elif record.status == "Stopping":
            running = self._running.get(key)
            if running is None:
                await asyncio.to_thread(self.record_end, key, "Stopped", None)
            else:
                self._stopping.add(key)
                running.cancel()

    async def _execute(self, key: ResourceKey, record: Record) -> None:
        run = TransformRun(record.document, TransformDesired.from_json(record.desired), key.region,
                           self.preparer, self.launcher, self.store,
                           self.limits.health_check_timeout_seconds, account=key.account, placement=self.placement)

        async def started() -> None:
            await asyncio.to_thread(self._patch, key, Patch({"TransformStartTime": time.time()}))

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
            log.exception("transform job %s failed unexpectedly", key.name)
            status, reason = "Failed", f"Internal error in modelyard while running the job: {exc}"[:MAX_REASON]
        finally:
            self._stopping.discard(key)
        log.info("transform job %s: %s %s", key.name, status, reason or "")
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(asyncio.to_thread(self.record_end, key, status, reason))

    # store access (blocking, run in threads)

    def _get(self, key: ResourceKey) -> Record | None:
        with self.db.session() as conn:
            return get_record(conn, key.account, key.region, KIND, key.name)

    def _patch(self, key: ResourceKey, change: Patch | Callable[[Record], Patch | None]) -> Record | None:
        with self.db.session(write=True) as conn:
            return patch_record(conn, key.account, key.region, KIND, key.name, change,
                                status_field="TransformJobStatus", expect=ACTIVE)

    def record_end(self, key: ResourceKey, status: str, reason: str | None) -> None:
        """Record how a job ended, unless it has ended already; a job found Stopping ends Stopped whatever
        the run's outcome (decided in the same transaction as the write, so no Stop is lost)."""
        def ending(job: Record) -> Patch:
            final, why = ("Stopped", None) if job.status == "Stopping" else (status, reason)
            why = self.server_paths.neutral_or_none(why)
            return Patch({"TransformJobStatus": final, "FailureReason": why, "TransformEndTime": time.time()})

        self._patch(key, ending)

    def _recover(self) -> None:
        with self.db.session() as conn:
            leftovers = [r for r in records_of_kind(conn, KIND) if r.status in ACTIVE]
        for record in leftovers:
            self.record_end(ResourceKey(record.account, record.region, record.name), "Failed", RESTARTED)
