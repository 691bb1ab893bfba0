"""The drainer: answers queued asynchronous requests through the same router as real-time calls.

    every wake-up (a new request, a finished one) or 0.5 s:
      endpoints with queued rows -> those in service with instances: free slots =
      MaxConcurrentInvocationsPerInstance x instances - running -> oldest queued rows:
        expired (RequestTTLSeconds) -> deleted and counted
        else claimed -> task: input -> file -> instance (InvocationTimeoutSeconds) -> answer file
            -> output (or failure) object -> row deleted -> notification

Crash safety: a row is deleted only after its answer is stored, so a request claimed when the server
died runs again after restart (its row goes back to ``queued``); a re-run first looks for the answer
it may already have stored, so no request is answered twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from pathlib import Path

from modelyard.hosting.asynchronous.backlog import Backlog, EndpointKey
from modelyard.hosting.asynchronous.notifications import Notifier, inference_result
from modelyard.hosting.asynchronous.requests import AsyncRequest
from modelyard.hosting.instances import ChainReply, InstanceClient, Invocation
from modelyard.hosting.router import SERVING_STATUSES, EndpointRoutes, Router
from modelyard.storage import ObjectStore
from modelyard.storage.errors import StorageError
from modelyard.store.async_invocations import (
    QueuedInvocation,
    claim_async_invocation,
    delete_async_invocation,
    endpoints_with_queued,
    expired_queued,
    oldest_queued,
    queued_arrivals,
    queued_ids,
    release_async_invocation,
    requeue_running,
)
from modelyard.store.database import Database
from modelyard.store.resources import get_record

log = logging.getLogger("modelyard.async")

POLL_SECONDS = 0.5
RETRY_DELAY_SECONDS = 0.5
EXPIRY_SWEEP_SECONDS = 5.0
MAX_ATTEMPTS = 3
MAX_INPUT_BYTES = 1 << 30
ERROR_EXCERPT_BYTES = 64 * 1024


class AsyncDrainer:
    """Claims queued requests while their endpoints have free slots and answers them."""

    def __init__(self, db: Database, router: Router, objects: ObjectStore, backlog: Backlog, work_dir: Path,
                 notifier: Notifier | None = None) -> None:
        """``work_dir`` holds inputs and answers while they run."""
        self.db = db
        self.router = router
        self.objects = objects
        self.backlog = backlog
        self.work_dir = work_dir
        self.notifier = notifier
        self.running: Counter[EndpointKey] = Counter()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # lifecycle

    async def start(self) -> None:
        """Requeue what a dead server had claimed, count the backlog, and start draining."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.work_dir.glob("*.part"):
            leftover.unlink(missing_ok=True)
        requeued, arrivals = await asyncio.to_thread(self._recover)
        if requeued:
            log.warning("async inference: %d request(s) claimed before the last stop are queued again", requeued)
        for invocation_id, account, region, endpoint, received_at in arrivals:
            self.backlog.added((account, region, endpoint), invocation_id, received_at)
        self._loop_task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop claiming; requests in flight stay claimed and run again after the next start."""
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    def backlog_figures(self, account: str, region: str, endpoint: str) -> dict[str, float]:
        """An endpoint's backlog figures now (``Backlog.figures`` with its current instance count)."""
        routes = self.router.get(account, region, endpoint)
        instances = 0 if routes is None else sum(len(v.instances) for v in routes.variants.values())
        return self.backlog.figures((account, region, endpoint), instances)

    def wake(self) -> None:
        """Look at the queue now (a request arrived, or an instance came up)."""
        self._wake.set()

    # the queue

    def _recover(self) -> tuple[int, list[tuple[str, str, str, str, float]]]:
        with self.db.session(write=True) as conn:
            requeued = requeue_running(conn)
        with self.db.session() as conn:
            return requeued, queued_arrivals(conn)

    async def _run(self) -> None:
        swept = 0.0
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            self._wake.clear()
            try:
                if time.monotonic() - swept > EXPIRY_SWEEP_SECONDS:
                    swept = time.monotonic()
                    await asyncio.to_thread(self._expire)
                await self._fill()
            except Exception:
                log.exception("async inference: the drainer failed to read the queue; retrying")

    def _expire(self) -> None:
        """Drop queued requests past their TTL, also those of endpoints that cannot run them (failed),
        and every queued request of an endpoint that was deleted."""
        with self.db.session(write=True) as conn:
            for account, region, endpoint in endpoints_with_queued(conn):
                if self.router.get(account, region, endpoint) is not None or get_record(
                        conn, account, region, "endpoint", endpoint) is not None:
                    continue
                dropped = queued_ids(conn, account, region, endpoint)
                for invocation_id in dropped:
                    delete_async_invocation(conn, invocation_id)
                    self.backlog.removed((account, region, endpoint), invocation_id, "DroppedWithEndpoint")
                log.warning("async inference: endpoint %s was deleted; its %d queued request(s) are dropped",
                            endpoint, len(dropped))
            for invocation_id, account, region, endpoint, inference_id in expired_queued(conn, time.time(), 1000):
                delete_async_invocation(conn, invocation_id)
                self.backlog.removed((account, region, endpoint), invocation_id, "ExpiredRequests")
                log.warning("async inference %s on %s expired after its RequestTTLSeconds; dropped",
                            inference_id, endpoint)

    async def _fill(self) -> None:
        endpoints = await asyncio.to_thread(self._endpoints)
        for account, region, name in endpoints:
            key = (account, region, name)
            routes = self.router.get(account, region, name)
            if routes is None or routes.asynchronous is None or routes.status not in SERVING_STATUSES:
                continue
            instances = sum(len(v.instances) for v in routes.variants.values() if v.weight > 0)
            free = routes.asynchronous.concurrency_per_instance * instances - self.running[key]
            if free <= 0:
                continue
            for item in await asyncio.to_thread(self._claim, key, free):
                self.running[key] += 1
                task = asyncio.create_task(self._answer(routes, item))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _endpoints(self) -> list[tuple[str, str, str]]:
        with self.db.session() as conn:
            return list(endpoints_with_queued(conn))

    def _claim(self, key: EndpointKey, limit: int) -> list[QueuedInvocation]:
        """Claim up to ``limit`` rows; expired ones are dropped and counted instead."""
        now = time.time()
        claimed = []
        with self.db.session(write=True) as conn:
            for item in oldest_queued(conn, *key, limit):
                if item.expires_at <= now:
                    delete_async_invocation(conn, item.id)
                    self.backlog.removed(key, item.id, "ExpiredRequests")
                    log.warning("async inference %s on %s expired after its RequestTTLSeconds; dropped",
                                item.inference_id, key[2])
                    continue
                if claim_async_invocation(conn, item.id):
                    claimed.append(item)
        return claimed

    def _finish(self, item: QueuedInvocation) -> None:
        with self.db.session(write=True) as conn:
            delete_async_invocation(conn, item.id)

    def _release(self, item: QueuedInvocation) -> None:
        with self.db.session(write=True) as conn:
            release_async_invocation(conn, item.id)

    # one request

    async def _answer(self, routes: EndpointRoutes, item: QueuedInvocation) -> None:
        key = (item.account, item.region, item.endpoint)
        request = AsyncRequest.from_json(item.request)
        body_path = self.work_dir / f"{item.id}.in.part"
        reply_path = self.work_dir / f"{item.id}.out.part"
        outcome: str | None = None
        try:
            outcome = await self._attempt(routes, item, request, body_path, reply_path)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("async inference %s: unexpected failure", request.inference_id)
            outcome = await self._fail(routes, request, f"modelyard could not process the request: {exc}")
        finally:
            self.running[key] -= 1
            body_path.unlink(missing_ok=True)
            reply_path.unlink(missing_ok=True)
            self.wake()
        if outcome == "retry":
            await asyncio.sleep(RETRY_DELAY_SECONDS)
            await asyncio.to_thread(self._release, item)
            self.wake()
            return
        await asyncio.to_thread(self._finish, item)
        self.backlog.removed(key, item.id, outcome)

    async def _attempt(self, routes: EndpointRoutes, item: QueuedInvocation, request: AsyncRequest,
                       body_path: Path, reply_path: Path) -> str:
        """Run one request; the counter its end adds to, or ``retry``."""
        if item.attempts > 0 and await asyncio.to_thread(self._answered, request):
            log.warning("async inference %s: its answer was stored before the last stop; not run again",
                        request.inference_id)
            return "Invocations"
        content_type = request.content_type
        if request.inline:
            await asyncio.to_thread(body_path.write_bytes, item.body or b"")
        else:
            problem, stored_type = await asyncio.to_thread(self._fetch, request.input_location, body_path)
            if problem:
                return await self._fail(routes, request, problem)
            content_type = content_type or stored_type
        instance = _pick(self.router.get(item.account, item.region, item.endpoint) or routes)
        if instance is None:
            return "retry"
        invocation = Invocation(b"", content_type, request.accept, request.custom_attributes,
                                request.inference_id)
        try:
            reply = await instance.invoke_file(invocation, str(body_path), str(reply_path), request.timeout_seconds)
        except asyncio.TimeoutError:
            instance.timeouts += 1
            return await self._fail(routes, request, (
                f"ModelInvocationTimeExceeded: the model did not answer within the request's "
                f"InvocationTimeoutSeconds ({request.timeout_seconds} s)"))
        except (OSError, asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            if item.attempts + 1 < MAX_ATTEMPTS:
                return "retry"
            return await self._fail(routes, request, f"the instance dropped the invocation {MAX_ATTEMPTS} times: {exc}")
        if reply.status >= 400:
            message = await asyncio.to_thread(_excerpt, reply_path)
            return await self._fail(routes, request, (
                f'Received {"client" if reply.status < 500 else "server"} error ({reply.status}) from '
                f'{reply.container if isinstance(reply, ChainReply) else "primary"} with message "{message}". '
                f"See {routes.log_group_arn} for more information."))
        try:
            await asyncio.to_thread(self.objects.upload_file, reply_path, request.output_location)
        except StorageError as exc:
            return await self._fail(routes, request,
                                    f"could not write the output to {request.output_location}: {exc}")
        await self._notify(routes, request, True, reply.content_type)
        return "Invocations"

    def _answered(self, request: AsyncRequest) -> bool:
        for location in (request.output_location, request.failure_location):
            if location:
                with contextlib.suppress(StorageError):
                    if self.objects.exists(location):
                        return True
        return False

    def _fetch(self, location: str, dest: Path) -> tuple[str | None, str | None]:
        """Copy the input to ``dest``: a sentence saying why not (or None), and the object's Content-Type
        (the request's ContentType when it has none, as the SDK's AsyncPredictor sends none)."""
        try:
            info = self.objects.stat(location)
            if info.size > MAX_INPUT_BYTES:
                return (f"the input at {location} has {info.size} bytes; asynchronous inputs are limited to "
                        "1 GB"), None
            self.objects.download(location, dest)
        except StorageError as exc:
            return f"could not read the input at {location}: {exc}", None
        return None, info.content_type

    async def _fail(self, routes: EndpointRoutes, request: AsyncRequest, message: str) -> str:
        """Store the failure (when the endpoint has an S3FailurePath) and notify; the counter to add to."""
        log.warning("async inference %s on %s failed: %s", request.inference_id, routes.name, message)
        if request.failure_location:
            try:
                await asyncio.to_thread(self.objects.write_bytes, request.failure_location, message.encode())
            except StorageError as exc:
                log.warning("async inference %s: could not write the failure to %s: %s", request.inference_id,
                            request.failure_location, exc)
        await self._notify(routes, request, False, "text/plain", message)
        return "InvocationFailures"

    async def _notify(self, routes: EndpointRoutes, request: AsyncRequest, succeeded: bool,
                      content_type: str | None, reason: str | None = None) -> None:
        config = routes.asynchronous
        topic = None if config is None else (config.success_topic if succeeded else config.error_topic)
        if topic is None or self.notifier is None:
            return
        account, region = routes.arn.split(":")[4], routes.arn.split(":")[3]
        event = inference_result(
            region=region, endpoint=routes.name, inference_id=request.inference_id,
            received_at=request.received_at, finished_at=time.time(),
            input_location=None if request.inline else request.input_location,
            content_type=request.content_type, succeeded=succeeded, output_location=request.output_location,
            output_content_type=content_type, failure_location=request.failure_location,
            failure_reason=None if reason is None else f"ClientError: {reason}")
        if not await asyncio.to_thread(self.notifier.publish, topic, event):
            self.backlog.count((account, region, routes.name), "NotificationFailures")


def _pick(routes: EndpointRoutes) -> InstanceClient | None:
    variant = routes.fleet().pick_variant()
    return None if variant is None else variant.pick()


def _excerpt(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(ERROR_EXCERPT_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""
