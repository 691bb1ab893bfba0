"""Run one batch transform job: containers up, every input object through them, ``.out`` files down.

    prepare the model's container(s) ─► start InstanceCount instances (/ping) ─► /execution-parameters
    (a multi-container model: every instance runs all its containers as a Serial pipeline)
    producer: object ─read─► plan_file ─► the PieceFeed of its instance (at most two files waiting each);
              the input objects are partitioned across the instances: object i goes to instance i mod N,
              so one file never splits across instances
    workers : MaxConcurrentTransforms connections per instance, each takes its instance's next piece,
              invokes, hands the reply back; on a toolkit instance a connection is a pipelined lane of
              LANE_FRAMES workers, each taking up to BATCH_RECORDS consecutive pieces of one file and
              sending them in one frame (the toolkit runs a connection's frames one at a time, in order,
              and a frame's pieces one after another as separate invocations, so the model still sees at
              most MaxConcurrentTransforms requests at once, and the next frame already waits at the
              instance when one ends: no round trip, and no frame, per record)
    a file whose pieces all answered is assembled in input order and written as <key>.out;
    a failing piece fails its file (no .out) and the others carry on

Job-level problems (image, artifact, instances, input listing) raise ``RunFailed``; per-file
problems end up in ``Outcome.failures``. Cancelling ``run()`` stops the containers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from modelyard.controllers.container_group import GroupShape, container_names, start_group
from modelyard.controllers.endpoints.plans import ContainerPlan, PlanError
from modelyard.controllers.launcher import Instance, InstanceFailed, Launcher
from modelyard.controllers.placement import InstancePlacement
from modelyard.controllers.preparation import PreparedContainer, Preparer
from modelyard.controllers.transform.feed import PieceFeed
from modelyard.controllers.transform.files import (
    FileFailed,
    FileWork,
    describe_pieces,
    describe_records,
    plan_file,
)
from modelyard.controllers.transform.inputs import InputError, InputObject, list_inputs, output_uri
from modelyard.controllers.transform.settings import (
    RunSettings,
    container_environment,
    needs_execution_parameters,
    parse_execution_parameters,
    resolve_settings,
)
from modelyard.desired.transform import TransformDesired
from modelyard.hosting.container_chain import SERIAL
from modelyard.hosting.frame_client import Withdrawn
from modelyard.hosting.frame_pipeline import Answers, FramePipeline, RecordTimedOut
from modelyard.hosting.instances import ChainReply, FramedInstance, Invocation
from modelyard.log_groups import TRANSFORM_JOBS
from modelyard.logstore import LogWriter
from modelyard.storage import ObjectStore, StorageError

log = logging.getLogger("modelyard.controllers.transform.controller")
STOP_GRACE_SECONDS = 5.0
RETRY_DELAY_SECONDS = 0.2
WITHDRAWN_GRACE_SECONDS = 0.05
_MESSAGE_CHARS = 300


class RunFailed(Exception):
    """The job cannot run at all; the message is its FailureReason."""


@dataclass
class Outcome:
    """What a finished run did."""

    files: int = 0
    records: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


Send = Callable[[list[bytes], float], Awaitable[Answers]]
"""Sends the bodies of consecutive pieces of one file (one frame on a toolkit instance, else one piece) with
the per-record timeout; their answers, in order."""

LANE_FRAMES = 16
"""Frames in flight on one connection to a toolkit instance (answered in order, run one at a time; at most
1 MiB of bodies, so MultiRecord pieces still go one by one). Each frame carries up to BATCH_RECORDS
pieces, so the server and the toolkit each wake once per burst of frames rather than per record."""
BATCH_RECORDS = 64
"""Pieces of one file in one frame to a toolkit instance, each run as its own invocation by the toolkit."""
BATCH_BYTES = 256 * 1024
"""Bodies in one batch frame, at most (a larger piece goes alone)."""


@dataclass
class _Slot:
    instance: Instance
    data_log: LogWriter
    lanes: list[FramePipeline] = field(default_factory=list)
    frames: int = 0
    """Requests (frames) sent to the instance."""
    sent: int = 0
    """Pieces sent to the instance in them."""


def _piece_size(item: tuple[FileWork, InputObject], index: int) -> int:
    return len(item[0].pieces[index].body)


def _accept(work: FileWork, first: int, answers: Answers) -> None:
    """The answers of pieces ``first ..`` into ``work``; raises FileFailed for the first error answer."""
    statuses = answers.statuses
    failed = next((offset for offset, status in enumerate(statuses) if status != 200), None)
    work.accept_run(first, answers.bodies if failed is None else answers.bodies[:failed])
    if failed is None:
        return
    reply = answers.reply(failed)
    message = reply.body.decode("utf-8", errors="replace").strip()[:_MESSAGE_CHARS]
    source = f"container {reply.container}" if isinstance(reply, ChainReply) else "the model"
    raise FileFailed(f"{describe_records(work.pieces[first + failed])}: {source} answered HTTP {reply.status}: "
                     f"{message}")


def _plans(job: dict[str, Any], desired: TransformDesired) -> list[ContainerPlan]:
    """The model's containers; several run as a Serial pipeline on every instance."""
    if not desired.containers:
        raise RunFailed(f"Model {job['ModelName']} has no container")
    plans = []
    for raw in desired.containers:
        if raw.get("Mode") == "MultiModel":
            raise RunFailed(f"Model {job['ModelName']} is a multi-model container; batch transform needs a "
                            "single model")
        if not raw.get("Image"):
            raise RunFailed(f"A container of model {job['ModelName']} has no Image")
        data = raw.get("ModelDataUrl") or ((raw.get("ModelDataSource") or {}).get("S3DataSource") or {}).get("S3Uri")
        plans.append(ContainerPlan(raw["Image"], data, dict(raw.get("Environment") or {}),
                                   raw.get("ContainerHostname")))
    return plans


class TransformRun:
    """One execution of a transform job."""

    def __init__(self, job: dict[str, Any], desired: TransformDesired, region: str, preparer: Preparer,
                 launcher: Launcher, store: ObjectStore, health_timeout: float, *, account: str,
                 placement: InstancePlacement | None = None) -> None:
        """``launcher`` starts multi-container instances here and holds the logs; ``placement`` starts the
        single-container ones (default: ``launcher``) and checks and stops every instance."""
        self.job = job
        self.account = account
        self.desired = desired
        self.name: str = job["TransformJobName"]
        self.region = region
        self.preparer = preparer
        self.launcher = launcher
        self.placement: InstancePlacement = placement or launcher
        self.store = store
        self.health_timeout = health_timeout
        self.outcome = Outcome()
        self.slots: list[_Slot] = []
        self._prepared: list[PreparedContainer] = []
        self._writes: list[asyncio.Task[None]] = []

    async def run(self, started: Callable[[], Awaitable[None]] | None = None) -> Outcome:
        """Run to the end; ``started()`` is called once the containers are ready."""
        try:
            prepared = await self._prepare()
            await self._start_instances(prepared)
            settings = await self._settings()
            if started is not None:
                await started()
            inputs = await self._inputs()
            await self._process(inputs, settings)
            return self.outcome
        finally:
            await self._shutdown()

    async def _prepare(self) -> list[tuple[str, PreparedContainer]]:
        """Each container prepared (its own environment), with the job's environment added, by name."""
        plans = _plans(self.job, self.desired)
        members = []
        for name, plan in zip(container_names(plans), plans, strict=True):
            try:
                prepared = await asyncio.to_thread(self.preparer.prepare, plan)
            except PlanError as exc:
                raise RunFailed(f"Container {name}: {exc}" if len(plans) > 1 else str(exc)) from None
            self._prepared.append(prepared)
            environment = container_environment(self.job, plan.environment)
            members.append((name, replace(prepared, plan=replace(prepared.plan, environment=environment))))
        return members

    async def _start_instances(self, prepared: list[tuple[str, PreparedContainer]]) -> None:
        count = int(self.job["TransformResources"].get("InstanceCount", 1))
        isolated = self.desired.network_isolation
        results = await asyncio.gather(*(self._start_one(prepared, isolated) for _ in range(count)),
                                       return_exceptions=True)
        self.slots = [r for r in results if isinstance(r, _Slot)]
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            if isinstance(errors[0], (InstanceFailed, OSError)):
                raise RunFailed(f"An instance of the model did not start: {errors[0]}")
            raise errors[0]

    async def _start_one(self, members: list[tuple[str, PreparedContainer]], isolated: bool) -> _Slot:
        instance_type = self.job["TransformResources"].get("InstanceType")
        if len(members) > 1:
            shape = GroupShape(self.region, self.account, f"transform-jobs/{self.name}", self.name, TRANSFORM_JOBS,
                               self.name, SERIAL, isolated, instance_type)
            instance = await asyncio.to_thread(start_group, self.launcher, shape, members)
        else:
            instance = await asyncio.to_thread(self.placement.start, self.region, f"transform-jobs/{self.name}",
                                               self.name, members[0][1], isolated, TRANSFORM_JOBS, instance_type,
                                               account=self.account)
        data_log = self.launcher.logs.scoped(self.account, self.region).writer(
            TRANSFORM_JOBS, f"{instance.log_stream}/data-log")
        slot = _Slot(instance, data_log)
        try:
            await self.placement.wait_ready(instance, self.health_timeout)
        except BaseException:
            await self._stop_slot(slot)
            raise
        return slot

    async def _settings(self) -> RunSettings:
        suggested: dict[str, Any] = {}
        if needs_execution_parameters(self.job):
            try:
                body = await self.slots[0].instance.client.execution_parameters(timeout=10.0)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
                body = None
            suggested = parse_execution_parameters(body)
        settings = resolve_settings(self.job, suggested)
        for slot in self.slots:
            slot.data_log.write_line(f"Transform job {self.name}: {settings.describe()}")
        return settings

    async def _inputs(self) -> list[InputObject]:
        output_path = self.job["TransformOutput"]["S3OutputPath"]
        try:
            self.store.location(output_path)
        except StorageError as exc:
            raise RunFailed(f"The S3OutputPath {output_path} is not usable: {exc}") from None
        source = self.job["TransformInput"]["DataSource"]["S3DataSource"]
        try:
            return await asyncio.to_thread(list_inputs, self.store, source)
        except InputError as exc:
            raise RunFailed(str(exc)) from None

    async def _process(self, inputs: list[InputObject], settings: RunSettings) -> None:
        feeds: list[PieceFeed[tuple[FileWork, InputObject]]] = [PieceFeed() for _ in self.slots]
        tasks = [asyncio.create_task(self._worker(slot, feed, settings, send, limit))
                 for slot, feed in zip(self.slots, feeds, strict=True)
                 for send, limit in self._lanes(slot, settings)]
        try:
            for position, source in enumerate(inputs):
                index = position % len(self.slots)
                feed, slot = feeds[index], self.slots[index]
                await feed.wait_room()
                work = await self._plan_file(source, settings, slot)
                if work is None:
                    continue
                if not work.pieces:
                    self._finish(source, work, slot)
                feed.add((work, source), len(work.pieces))
            for feed in feeds:
                feed.close()
            await asyncio.gather(*tasks)
            await asyncio.gather(*self._writes)
            for slot in self.slots:
                slot.data_log.write_line(f"Transform job {self.name}: {slot.sent} invocations sent in "
                                         f"{slot.frames} requests to the instance")
        finally:
            for task in tasks:
                task.cancel()

    async def _plan_file(self, source: InputObject, settings: RunSettings, slot: _Slot) -> FileWork | None:
        self.outcome.files += 1
        try:
            data = await asyncio.to_thread(self.store.read_bytes, source.uri)
            return await asyncio.to_thread(plan_file, data, settings.spec)
        except StorageError as exc:
            self._fail(source, f"could not read it: {exc}", slot)
        except FileFailed as exc:
            self._fail(source, str(exc), slot)
        return None

    def _lanes(self, slot: _Slot, settings: RunSettings) -> list[tuple[Send, int]]:
        """One sender per worker, with the pieces it may take at once: MaxConcurrentTransforms connections to
        the instance; on a toolkit instance each carries LANE_FRAMES frames of up to BATCH_RECORDS pieces (the
        toolkit runs a connection's frames one at a time and a frame's pieces one after another)."""
        client = slot.instance.client
        content_type, accept = settings.content_type, settings.accept
        if not isinstance(client, FramedInstance):
            async def one(bodies: list[bytes], timeout: float) -> Answers:
                return Answers.of([await client.invoke(Invocation(bodies[0], content_type, accept), timeout)])
            return [(one, 1)] * settings.max_concurrent
        lanes = [FramePipeline(client, LANE_FRAMES) for _ in range(settings.max_concurrent)]
        slot.lanes = lanes

        def batched(lane: FramePipeline) -> Send:
            async def send(bodies: list[bytes], timeout: float) -> Answers:
                if len(bodies) == 1:
                    return Answers.of([await lane.invoke(Invocation(bodies[0], content_type, accept), timeout)])
                return await lane.invoke_batch(bodies, content_type, accept, timeout)
            return send

        return [(batched(lane), BATCH_RECORDS) for lane in lanes for _ in range(LANE_FRAMES)]

    async def _worker(self, slot: _Slot, feed: PieceFeed[tuple[FileWork, InputObject]],
                      settings: RunSettings, send: Send, limit: int) -> None:
        while True:
            taken = await feed.take_run(limit, BATCH_BYTES, _piece_size)
            if taken is None:
                return
            (work, source), first, count = taken
            if work.failure is not None:
                continue
            try:
                answers = await self._send(slot, work, first, count, settings, send)
                if work.failure is None:
                    _accept(work, first, answers)
                if work.remaining == 0 and work.failure is None:
                    self._finish(source, work, slot)
            except FileFailed as exc:
                if work.failure is None:
                    self._fail(source, str(exc), slot, work)
            except Exception as exc:
                log.exception("transform job %s: %s", self.name, source.uri)
                if work.failure is None:
                    self._fail(source, f"internal error in modelyard: {exc}", slot, work)

    async def _send(self, slot: _Slot, work: FileWork, first: int, count: int, settings: RunSettings,
                    send: Send) -> Answers:
        """Send pieces ``first .. first+count-1`` of ``work``, retrying transport failures; their answers."""
        pieces = work.pieces[first:first + count]
        bodies = [piece.body for piece in pieces]
        attempt = 0
        while attempt <= settings.retries:
            slot.frames += 1
            slot.sent += count
            try:
                return await send(bodies, settings.timeout)
            except Withdrawn as exc:
                # the call ahead of this one failed and reports it after the same pause as any failed call:
                # wait a little longer, so a container that died on an earlier record is blamed on that record
                await asyncio.sleep(RETRY_DELAY_SECONDS * (attempt + 1) + WITHDRAWN_GRACE_SECONDS)
                if work.failure is not None:
                    raise FileFailed(work.failure) from None
                if slot.instance.process.poll() is None:
                    continue
                raise FileFailed(f"{describe_pieces(pieces)}: {self._transport_problem(slot, exc, settings)}") \
                    from None
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
                await asyncio.sleep(RETRY_DELAY_SECONDS * (attempt + 1))
                problem = self._transport_problem(slot, exc, settings)
                culprits = [pieces[exc.index]] if isinstance(exc, RecordTimedOut) else pieces
                if attempt < settings.retries and slot.instance.process.poll() is None:
                    slot.data_log.write_line(f"{describe_pieces(culprits)}: {problem}; retrying")
                    attempt += 1
                    continue
                raise FileFailed(f"{describe_pieces(culprits)}: {problem}") from None
        raise AssertionError("unreachable")

    def _transport_problem(self, slot: _Slot, exc: BaseException, settings: RunSettings) -> str:
        if slot.instance.process.poll() is not None:
            return (f"the container exited with code {slot.instance.process.returncode}; see log stream "
                    f"{slot.instance.log_stream}")
        if isinstance(exc, asyncio.TimeoutError):
            return f"the model did not answer within {settings.timeout:g} s (InvocationsTimeoutInSeconds)"
        return (f"the request to the model failed ({exc or type(exc).__name__}); see log stream "
                f"{slot.instance.log_stream}")

    def _fail(self, source: InputObject, message: str, slot: _Slot, work: FileWork | None = None) -> None:
        if work is not None:
            work.failure = message
        self.outcome.failures.append((source.uri, message))
        slot.data_log.write_line(f"Failed to transform {source.uri}: {message}")

    def _finish(self, source: InputObject, work: FileWork, slot: _Slot) -> None:
        self.outcome.records += sum(piece.count for piece in work.pieces)
        target = output_uri(self.store, self.job["TransformOutput"]["S3OutputPath"], source.relative)
        self._writes.append(asyncio.create_task(self._write(source, target, work, slot)))

    async def _write(self, source: InputObject, target: str, work: FileWork, slot: _Slot) -> None:
        try:
            await asyncio.to_thread(lambda: self.store.write_bytes(target, work.result()))
        except StorageError as exc:
            self._fail(source, f"could not write {target}: {exc}", slot)
        work.outputs = []

    async def _shutdown(self) -> None:
        for task in self._writes:
            task.cancel()
        await asyncio.gather(*(self._stop_slot(slot) for slot in self.slots), return_exceptions=True)
        for prepared in self._prepared:
            self.preparer.release(prepared)
        self._prepared = []

    async def _stop_slot(self, slot: _Slot) -> None:
        for lane in slot.lanes:
            lane.close()
        with contextlib.suppress(Exception):
            await slot.instance.client.close()
        slot.data_log.close()
        await asyncio.to_thread(self.placement.stop, slot.instance, STOP_GRACE_SECONDS)
