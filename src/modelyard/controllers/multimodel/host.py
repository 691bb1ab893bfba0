"""One instance of a multi-model variant: every TargetModel under the prefix, loaded on demand.

    invoke(TargetModel) ─► loaded and unchanged? ── yes ─► its own toolkit process (a hit)
                              │ no
                              ▼
        one load per model (single flight): fingerprint ─► Preparer (artifact + its requirements'
        environment, shared by models with the same requirements) ─► room in the memory budget
        (least recently used idle models unloaded) ─► sandboxed toolkit process ─► /ping (model_fn ran)

A caller waits for a load at most its invocation timeout, then gets ``ModelNotReadyException`` while
the load goes on. A load that fails answers ``ModelError`` naming the model and the process's last
log line, and is retried by a later call (at once if the artifact changed, else after a pause that
doubles with each failure). On a framework image each model runs in a toolkit process of its own
(``servers.OwnProcess``), so models with conflicting requirements live side by side and unloading a model
(stopping its process) really returns its memory; a bring-your-own image that declares the multi-model
contract runs one container per instance instead, and models are added to it (``contract``).
The instance is a ``hosting.instances.InstanceClient`` and a ``hosting.model_targets.ModelHolder``:
the router sends it calls like any instance, preferring instances that hold the model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from modelyard.controllers.endpoints.plans import ContainerPlan, PlanError
from modelyard.controllers.launcher import Instance, InstanceFailed, Launcher
from modelyard.controllers.multimodel.contract import ContractContainer, LoadRefused
from modelyard.controllers.multimodel.eviction import idle, least_recently_used, over_budget
from modelyard.controllers.multimodel.loaded import LoadedModel, ModelRecord
from modelyard.controllers.multimodel.metrics import HostMetrics, publisher
from modelyard.controllers.multimodel.servers import ModelServer, OwnProcess
from modelyard.controllers.preparation import ArtifactUnusable, EnvironmentUnbuildable, PreparedContainer, Preparer
from modelyard.hosting.instances import Ending, Invocation, Reply, StreamedReply
from modelyard.hosting.model_targets import checked_target
from modelyard.log_groups import MODEL_SNAPSHOT_MARK, MODEL_SNAPSHOT_SUFFIX, deployment_group
from modelyard.metrics.buffer import MetricBuffer
from modelyard.runtime.limits import DEFAULT_MEMORY, limits_for
from modelyard.settings import MultiModelLimits
from modelyard.storage.errors import ArtifactNotFoundError, StorageError
from modelyard.toolkit.environment import WORKERS_VARIABLE
from modelyard.wire.errors import ModelError, ModelNotReadyException, RuntimeValidationError, ServiceError

log = logging.getLogger("modelyard.controllers.multimodel")
SWEEP_SECONDS = 1.0
MEASURE_SECONDS = 5.0
SNAPSHOT_SECONDS = 2.0
DRAIN_SECONDS = 10.0
_UNSAFE_STREAM = re.compile(r"[^A-Za-z0-9._/#=+-]")


def _one_worker_unless_set(prepared: PreparedContainer) -> dict[str, str]:
    """One worker per model, as SageMaker's toolkits configure a multi-model server
    (``default_workers_per_model=1``), unless the model's or the image's environment sets the count."""
    if WORKERS_VARIABLE in prepared.plan.environment or WORKERS_VARIABLE in prepared.image.env:
        return {}
    return {WORKERS_VARIABLE: "1"}


@dataclass(frozen=True)
class HostSetup:
    """What every instance of one multi-model variant shares."""

    account: str
    region: str
    endpoint: str
    variant: str
    base: PreparedContainer
    """The variant's container with its image and base environment, without model data."""
    prefix: str
    instance_type: str | None
    volume_gb: int | None
    network_isolated: bool
    log_group: str
    log_group_arn: str
    cache_enabled: bool
    limits: MultiModelLimits
    health_timeout: float


class ModelHost:
    """Serves the models of one multi-model instance (a toolkit process per model, or one contract container)."""

    def __init__(self, setup: HostSetup, preparer: Preparer, launcher: Launcher,
                 metrics: MetricBuffer | None = None) -> None:
        self.setup = setup
        self.preparer = preparer
        self.launcher = launcher
        self.host_id = f"i-{secrets.token_hex(8)}"
        self.outstanding = 0
        self.timeouts = 0
        self.ended: Callable[[], Ending | None] | None = None
        self.models: dict[str, LoadedModel] = {}
        self.records: dict[str, ModelRecord] = {}
        self.metrics = HostMetrics(None if metrics is None else publisher(
            metrics, setup.account, setup.region, setup.endpoint, setup.variant))
        self.budget = setup.limits.memory_budget_bytes or limits_for(setup.instance_type).memory_bytes \
            or DEFAULT_MEMORY
        self._loading: dict[str, asyncio.Task[LoadedModel]] = {}
        self._callers: Counter[str] = Counter()
        """Calls under way per target, from arrival to reply: their models are never evicted."""
        self._leaving: dict[str, set[LoadedModel]] = {}
        """Models being unloaded per target: a new load of the target waits for them."""
        self.contract = None if setup.base.image.kind == "toolkit" else \
            ContractContainer(setup, launcher, preparer, self.host_id, self._note)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self.log_stream = f"{setup.variant}/{self.host_id}"
        logs = launcher.logs.scoped(setup.account, setup.region)
        self._writer = logs.writer(setup.log_group, self.log_stream)
        self._snapshots = logs.writer(deployment_group(setup.endpoint), self.log_stream + MODEL_SNAPSHOT_SUFFIX)
        self._shown: str | None = None

    # the InstanceClient protocol

    def start(self) -> None:
        """Start unloading idle models and noticing dead ones (call on the event loop)."""
        self._note(f"multi-model instance ready: models from {self.setup.prefix}, memory budget "
                   f"{self.budget // (1 << 20)} MiB")
        self._spawn(self._sweep())

    def holds(self, target: str) -> bool:
        """Whether ``target`` is loaded or loading here (a routing preference: a model whose process has died
        since its last call still counts, and that call, here, loads it again)."""
        return target in self.models or target in self._loading

    async def invoke(self, invocation: Invocation, timeout: float) -> Reply:
        """Load ``invocation.target_model`` if needed (waiting at most ``timeout``), then call it."""
        target = checked_target(invocation.target_model, self.setup.endpoint)
        deadline = time.monotonic() + timeout
        self.outstanding += 1
        callers = self._callers
        callers[target] = callers.get(target, 0) + 1
        try:
            model = self._hit(target) or await self._ready(target, timeout)
            model.in_flight += 1
            model.touch()
            try:
                return await model.server.invoke(invocation, max(deadline - time.monotonic(), 0.001))
            except (OSError, asyncio.IncompleteReadError, ConnectionError):
                raise await self._lost(model) from None
            finally:
                model.in_flight -= 1
        finally:
            self.outstanding -= 1
            left = callers[target] - 1
            if left:
                callers[target] = left
            else:
                del callers[target]
                self._after_last_call(target)

    def _after_last_call(self, target: str) -> None:
        """With ModelCacheSetting Disabled, unload ``target`` once no call for it is under way."""
        model = self.models.get(target)
        if not self.setup.cache_enabled and model is not None and self._unused(model):
            self._spawn(self._unload(model, "ModelCacheSetting is Disabled"))

    def _unused(self, model: LoadedModel) -> bool:
        """Whether ``model`` is current and no call is using it or on its way to it (it may be unloaded)."""
        return self.models.get(model.target) is model and not model.in_flight and model.target not in self._callers

    async def invoke_file(self, invocation: Invocation, body_path: str, reply_path: str,
                          timeout: float) -> Reply:
        """Asynchronous invocations are not served by multi-model endpoints (refused at
        CreateEndpointConfig; this guards a config stored before that check)."""
        raise RuntimeValidationError(f"Endpoint {self.setup.endpoint} is a multi-model endpoint, which does not "
                                     "support asynchronous inference")

    async def invoke_stream(self, invocation: Invocation, timeout: float) -> StreamedReply:
        """Response streaming is not served by multi-model endpoints."""
        raise RuntimeValidationError(f"Endpoint {self.setup.endpoint} is a multi-model endpoint, which does not "
                                     "support InvokeEndpointWithResponseStream; use InvokeEndpoint")

    async def ping(self, timeout: float) -> bool:
        """A multi-model instance is healthy while it runs; each model's process is checked on use."""
        return not self._closed

    async def execution_parameters(self, timeout: float) -> bytes | None:
        """Multi-model endpoints have no batch-transform execution parameters."""
        return None

    async def ready(self) -> None:
        """Return once the instance can load models: at once, or when its bring-your-own multi-model
        container answers /ping (raises ``InstanceFailed`` if it cannot start)."""
        if self.contract is not None:
            await self.contract.ensure()

    async def close(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Let calls in flight finish (at most ``drain_seconds``), then stop loading and unload every model."""
        self._closed = True
        deadline = time.monotonic() + drain_seconds
        while self.outstanding and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for task in list(self._tasks) + list(self._loading.values()):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._loading.values(), return_exceptions=True)
        await asyncio.gather(*(self._unload(m, "the instance is stopping") for m in list(self.models.values())),
                             return_exceptions=True)
        if self.contract is not None:
            await self.contract.close()
        self._snapshot(stopped=True)
        self._writer.close()
        self._snapshots.close()

    # what is loaded

    def _snapshot(self, *, stopped: bool = False) -> None:
        """Write ``describe()`` to the instance's snapshot stream when it changed (``modelyard endpoints
        --models`` reads the last one)."""
        shown = json.dumps({**self.describe(), "Variant": self.setup.variant, "Stopped": stopped}, sort_keys=True)
        if shown != self._shown:
            self._shown = shown
            self._snapshots.write_line(MODEL_SNAPSHOT_MARK + shown)

    def describe(self) -> dict[str, Any]:
        """The instance's models, their counts and load times, and its metrics (for ``modelyard``'s view)."""
        models = []
        for target, record in sorted(self.records.items()):
            model = self.models.get(target)
            models.append({"TargetModel": target, "Loaded": model is not None,
                           "Loading": target in self._loading, "Loads": record.loads, "Unloads": record.unloads,
                           "Hits": record.hits, "Misses": record.misses, "LastLoadSeconds": record.last_load_seconds,
                           "MemoryBytes": model.memory_bytes if model else None,
                           "LastFailure": str(record.failed_error) if record.failed_error else None})
        return {"InstanceId": self.host_id, "MemoryBudgetBytes": self.budget,
                "MemoryBytes": sum(m.memory_bytes for m in self.models.values()), "Models": models,
                "Metrics": self.metrics.as_dict()}

    # loading

    def _hit(self, target: str) -> LoadedModel | None:
        """The loaded model for ``target`` when it can be used at once (its artifact checked within
        ``revalidate_seconds``, its process running), counted as a hit; None: ``_ready`` decides."""
        model, record = self.models.get(target), self.records.get(target)
        if model is None or record is None or model.stale or \
                time.monotonic() - model.checked_at >= self.setup.limits.revalidate_seconds or \
                not self._usable(target, model):
            return None
        return self._counted_hit(record, model)

    def _counted_hit(self, record: ModelRecord, model: LoadedModel) -> LoadedModel:
        record.hits += 1
        model.hits += 1
        self.metrics.cache(True)
        return model

    async def _ready(self, target: str, timeout: float) -> LoadedModel:
        """The loaded, current model for ``target``: from memory (a hit) or from the one load of it under
        way, started if none is (a miss). A model unloaded before this call could use it (its process died)
        is loaded again within the same ``timeout``."""
        record = self.records.get(target)
        if record is None:
            record = self.records[target] = ModelRecord()
        model = self.models.get(target)
        if model is not None:
            if await self._unchanged(model) and self._usable(target, model):
                return self._counted_hit(record, model)
            if self.models.get(target) is model and not model.alive():
                await self._unload(model, "its process ended")
        record.misses += 1
        self.metrics.cache(False)
        waited = time.monotonic()
        try:
            while True:
                task = self._loading.get(target)
                if task is None:
                    task = asyncio.create_task(self._load(target, record))
                    self._loading[target] = task
                    task.add_done_callback(lambda done: self._loaded(target, done))
                model = await asyncio.wait_for(asyncio.shield(task), max(waited + timeout - time.monotonic(), 0))
                if self._usable(target, model) or self._closed:
                    return model
                if self._loading.get(target) is task:
                    del self._loading[target]
        except asyncio.TimeoutError:
            raise ModelNotReadyException(
                f"Model {target} is still being loaded on endpoint {self.setup.endpoint} (its first call waited "
                f"{timeout:g} seconds); the load goes on, retry the call shortly") from None
        finally:
            self.metrics.timing("ModelLoadingWaitTime", time.monotonic() - waited)

    def _usable(self, target: str, model: LoadedModel) -> bool:
        return self.models.get(target) is model and not model.unloading and model.alive()

    def _loaded(self, target: str, task: asyncio.Task[LoadedModel]) -> None:
        if self._loading.get(target) is task:
            del self._loading[target]
        if not task.cancelled():
            task.exception()

    async def _unchanged(self, model: LoadedModel) -> bool:
        """Whether the model's artifact is still what was loaded (checked at most every
        ``revalidate_seconds``; an artifact deleted meanwhile keeps being served, as SageMaker does)."""
        if model.stale:
            return False
        now = time.monotonic()
        if now - model.checked_at < self.setup.limits.revalidate_seconds:
            return True
        model.checked_at = now
        try:
            fingerprint = await asyncio.to_thread(self.preparer.cache.fingerprint, self._uri(model.target))
        except StorageError:
            return True
        if fingerprint != model.fingerprint:
            if not model.stale:
                self._note(f"model {model.target} changed at its source; loading it again")
            model.stale = True
        return not model.stale

    async def _load(self, target: str, record: ModelRecord) -> LoadedModel:
        for leaving in list(self._leaving.get(target, ())):
            await leaving.gone.wait()
        started = time.monotonic()
        uri = self._uri(target)
        fingerprint = await asyncio.to_thread(self._fingerprint, target, uri)
        if record.failed_error is not None and record.failed_fingerprint == fingerprint \
                and time.monotonic() < record.retry_at:
            raise ModelError(record.failed_error.message, **record.failed_error.fields)
        try:
            model = await self._bring_up(target, uri, fingerprint, started)
        except ModelError as exc:
            record.failures += 1
            record.failed_fingerprint, record.failed_error = fingerprint, exc
            record.retry_at = time.monotonic() + min(2.0 ** (record.failures - 1), self.setup.limits.retry_max_seconds)
            raise
        record.failures, record.failed_error = 0, None
        record.loads += 1
        record.last_load_seconds = model.load_seconds
        return model

    def _fingerprint(self, target: str, uri: str) -> str:
        try:
            return self.preparer.cache.fingerprint(uri)
        except ArtifactNotFoundError:
            raise RuntimeValidationError(
                f"Failed to download model data for TargetModel {target}: no object at {uri}. Upload the "
                "model artifact under the model's ModelDataUrl prefix, or fix TargetModel") from None
        except StorageError as exc:
            raise RuntimeValidationError(f"Failed to download model data for TargetModel {target}: {exc}") from None

    async def _bring_up(self, target: str, uri: str, fingerprint: str, started: float) -> LoadedModel:
        if self.contract is not None:
            artifact = await self._fetched(target, uri)
            download = self._downloaded(started)
            server: ModelServer = await self._register(target, fingerprint, artifact)
        else:
            prepared = await self._prepared(target, uri)
            download = self._downloaded(started)
            fingerprint = prepared.content.split("\n")[0]
            try:
                await self._make_room(keep=target)
                instance = await self._start(target, prepared)
            except BaseException:
                await asyncio.to_thread(self.preparer.release, prepared)
                raise
            server = OwnProcess(instance, prepared, self.launcher, self.preparer)
        memory = await asyncio.to_thread(server.memory_bytes)
        model = LoadedModel(target, fingerprint, server, time.monotonic() - started, memory)
        self.metrics.timing("ModelLoadingTime", model.load_seconds - download)
        old = self.models.get(target)
        self.models[target] = model
        self.metrics.loaded_model_count = len(self.models)
        self._note(f"loaded model {target} in {model.load_seconds:.3f}s ({memory // (1 << 20)} MiB; "
                   f"{len(self.models)} model(s) loaded)")
        if old is not None:
            self._spawn(self._unload(old, "a newer version was loaded", drain=True))
        if self._closed:
            self._spawn(self._unload(model, "the instance is stopping"))
        elif not self.setup.cache_enabled and self._unused(model):
            self._spawn(self._unload(model, "ModelCacheSetting is Disabled (its callers stopped waiting)"))
        else:
            self._spawn(self._make_room(keep=target))
        return model

    def _downloaded(self, started: float) -> float:
        seconds = time.monotonic() - started
        self.metrics.timing("ModelDownloadingTime", seconds)
        return seconds

    async def _prepared(self, target: str, uri: str) -> PreparedContainer:
        try:
            return await self._prepare(replace(self.setup.base.plan, model_data_url=uri))
        except ArtifactUnusable as exc:
            raise _unusable(target, exc) from None
        except EnvironmentUnbuildable as exc:
            raise self._failure(target, 400, f"{exc}. Fix code/requirements.txt in {target}") from None
        except PlanError as exc:
            raise self._failure(target, 500, str(exc)) from None

    async def _fetched(self, target: str, uri: str) -> Path:
        try:
            return await asyncio.to_thread(self.preparer.cache.fetch_model, uri)
        except StorageError as exc:
            raise _unusable(target, exc) from None

    async def _register(self, target: str, fingerprint: str, artifact: Path) -> ModelServer:
        """Load ``target`` (unpacked at ``artifact``) into the instance's bring-your-own multi-model container."""
        assert self.contract is not None
        try:
            await self._make_room(keep=target)
            return await self.contract.load(target, fingerprint, artifact, self._unload_oldest)
        except LoadRefused as exc:
            await asyncio.to_thread(self.preparer.cache.release, artifact)
            raise self._failure(target, exc.status, exc.message) from None
        except BaseException:
            await asyncio.to_thread(self.preparer.cache.release, artifact)
            raise

    async def _prepare(self, plan: ContainerPlan) -> PreparedContainer:
        """``Preparer.prepare`` in a worker thread; a load cancelled meanwhile (the endpoint is deleted)
        gives the preparation back when the thread ends."""
        work = asyncio.ensure_future(asyncio.to_thread(self.preparer.prepare, plan))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            work.add_done_callback(self._give_back)
            raise

    def _give_back(self, work: asyncio.Future[PreparedContainer]) -> None:
        if not work.cancelled() and work.exception() is None:
            self._spawn(asyncio.to_thread(self.preparer.release, work.result()))

    async def _start(self, target: str, prepared: PreparedContainer) -> Instance:
        setup = self.setup
        stream = f"{self.log_stream}/{_UNSAFE_STREAM.sub('_', target)}"
        instance = await asyncio.to_thread(
            self.launcher.start, setup.region, setup.endpoint, setup.variant, prepared, setup.network_isolated,
            setup.log_group, setup.instance_type, account=setup.account, volume_gb=setup.volume_gb,
            stream=stream, extra_env={"MODELYARD_TARGET_MODEL": target, **_one_worker_unless_set(prepared)})
        try:
            await self.launcher.wait_ready(instance, setup.health_timeout)
        except InstanceFailed as exc:
            await asyncio.to_thread(self.launcher.stop, instance, 0.5)
            raise self._failure(target, 500, str(exc)) from None
        except BaseException:
            await asyncio.to_thread(self.launcher.stop, instance, 0.5)
            raise
        return instance

    def _failure(self, target: str, status: int, message: str) -> ModelError:
        message = f"Model {target} could not be loaded: {message}"
        kind = "client" if 400 <= status < 500 else "server"
        return ModelError(f'Received {kind} error ({status}) from model with message "{message}". See '
                          f"{self.setup.log_group_arn} for more information.", OriginalStatusCode=status,
                          OriginalMessage=message, LogStreamArn=self.setup.log_group_arn)

    async def _lost(self, model: LoadedModel) -> ServiceError:
        """The model's process dropped the call: unload it (the next call loads it again)."""
        await asyncio.sleep(0.1)
        reason = "it closed the connection" if model.alive() else model.server.ended_reason()
        await self._unload(model, f"its process failed ({reason})")
        return self._failure(model.target, 500, f"its process stopped while handling the call: {reason}; "
                             "the next call loads it again")

    # unloading

    async def _make_room(self, keep: str | None = None) -> None:
        """Unload least recently used idle models until the loaded ones (plus, before a load, the average
        model's size) fit in the memory budget. Models that calls are using or waiting for stay; the choice
        is made again after each unload, as calls and loads come and go meanwhile."""
        while True:
            loaded = [m for m in self.models.values() if m.target != keep]
            incoming = 0
            if keep is not None and keep not in self.models and loaded:
                incoming = sum(m.memory_bytes for m in loaded) // len(loaded)
            busy = {*self._callers, *([keep] if keep is not None else [])}
            chosen = over_budget(self.models.values(), self.budget, incoming, busy)
            if not chosen:
                return
            try:
                await self._unload(chosen[0], f"the instance's memory budget ({self.budget // (1 << 20)} MiB) is full")
            except Exception as exc:  # noqa: BLE001 - a failed unload must not fail the load that made room
                log.warning("multi-model instance %s: unloading %s failed: %s", self.host_id, chosen[0].target, exc)

    async def _unload_oldest(self) -> bool:
        """Unload the least recently used idle model (a container answered 507); whether there was one."""
        chosen = least_recently_used(self.models.values(), busy=self._callers)
        if chosen is not None:
            await self._unload(chosen, "the container is out of resources (507)")
        return chosen is not None

    async def _unload(self, model: LoadedModel, why: str, *, drain: bool = False) -> None:
        """Stop serving ``model`` at once (the next call for its target loads it again, once this unload
        finished); ``drain`` lets the calls it is answering finish first."""
        if self.models.get(model.target) is model:
            del self.models[model.target]
        if model.unloading:
            return
        model.unloading = True
        self.metrics.loaded_model_count = len(self.models)
        leaving = self._leaving.setdefault(model.target, set())
        leaving.add(model)
        try:
            while drain and model.in_flight:
                await asyncio.sleep(0.01)
            started = time.monotonic()
            await model.server.stop()
        finally:
            model.gone.set()
            leaving.discard(model)
            if not leaving and self._leaving.get(model.target) is leaving:
                del self._leaving[model.target]
        record = self.records.setdefault(model.target, ModelRecord())
        record.unloads += 1
        self.metrics.timing("ModelUnloadingTime", time.monotonic() - started)
        self._note(f"unloaded model {model.target}: {why} ({len(self.models)} model(s) loaded)")

    async def _sweep(self) -> None:
        """Unload idle and dead models; re-measure memory now and then and unload past the budget."""
        measured = shown = time.monotonic()
        self._snapshot()
        while True:
            await asyncio.sleep(_sweep_interval(self.setup.limits.idle_seconds))
            self.metrics.flush()
            for model in idle(list(self.models.values()), self.setup.limits.idle_seconds, busy=set(self._callers)):
                if self._unused(model):
                    await self._unload(model, f"idle for more than {self.setup.limits.idle_seconds:g} s")
            for model in [m for m in self.models.values() if not m.alive() and not m.in_flight]:
                await self._unload(model, "its process ended")
            if time.monotonic() - measured >= MEASURE_SECONDS:
                measured = time.monotonic()
                for model in list(self.models.values()):
                    model.memory_bytes = await asyncio.to_thread(model.server.memory_bytes)
                await self._make_room()
            if time.monotonic() - shown >= SNAPSHOT_SECONDS:
                shown = time.monotonic()
                self._snapshot()

    # helpers

    def _uri(self, target: str) -> str:
        """The artifact's URI under the prefix; a ``file://`` prefix is also checked after links resolve."""
        prefix = self.setup.prefix
        if prefix.startswith("s3://"):
            return prefix + ("" if prefix.endswith("/") else "/") + target
        root = self.preparer.cache.store.location(prefix).local_path
        path = root / target
        try:
            inside = path.resolve().is_relative_to(root.resolve())
        except OSError:
            inside = False
        if not inside:
            raise RuntimeValidationError(f"TargetModel {target} leaves the model's ModelDataUrl prefix "
                                         "(through a link); give a key under the prefix")
        return "file://" + quote(str(Path(path)))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("multi-model instance %s: %s", self.host_id, task.exception())

    def _note(self, text: str) -> None:
        log.info("endpoint %s %s: %s", self.setup.endpoint, self.host_id, text)
        self._writer.write_line(f"modelyard: {text}")
        if not self._closed:
            self._snapshot()


def _unusable(target: str, exc: Exception) -> RuntimeValidationError:
    return RuntimeValidationError(f"TargetModel {target} cannot be loaded: {exc}. Upload a model.tar.gz with the "
                                  "model files at its root (and code/inference.py)")


def _sweep_interval(idle_seconds: float | None) -> float:
    return SWEEP_SECONDS if idle_seconds is None else max(min(SWEEP_SECONDS, idle_seconds / 2), 0.05)
