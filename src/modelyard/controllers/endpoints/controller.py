"""The endpoint controller: reconciles each endpoint's desired state with running instances.

    notify(account, region, name) ──► reconcile(key), one pass at a time per endpoint (KeyedReconciler)
        Deleting            -> stop instances, withdraw routes, delete the record
        Creating / recovery -> prepare, start every instance, wait for /ping, publish, InService | Failed
        Updating (config)   -> start the new deployment, healthy first, then switch traffic and stop the old;
                               with a DeploymentConfig: shift traffic in steps, bake, watch the rollback
                               alarms, roll back (rollout.py)
        Updating (weights)  -> scale variants in place and reweigh
    supervise()  ──► an instance that exits on its own is replaced while the others keep serving
    serverless   ──► instances start on demand (the gate asks), idle ones above ProvisionedConcurrency stop

Desired state lives beside the endpoint document (``EndpointDesired``: config and weight overrides).
Every transition is written back with ``patch_record``, guarded by the status the pass started from,
so a DeleteEndpoint or UpdateEndpoint that lands mid-pass is never overwritten (the pass it queued
acts on it); a restarted server rebuilds everything from the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from modelyard.arns import log_group_arn
from modelyard.controllers.container_group import GroupShape, container_names, start_group
from modelyard.controllers.endpoints.backoff import RestartBackoff
from modelyard.controllers.endpoints.multi_model import host_setup, prepare_base
from modelyard.controllers.endpoints.plans import (
    PlanError,
    VariantPlan,
    endpoint_async,
    endpoint_capture,
    plan_variants,
)
from modelyard.controllers.endpoints.rollout import Rollout
from modelyard.controllers.endpoints.shadow import shadow_routes
from modelyard.controllers.launcher import Instance, InstanceFailed, Launcher
from modelyard.controllers.multimodel.host import ModelHost
from modelyard.controllers.multimodel.metrics import LoadedModels
from modelyard.controllers.placement import InstancePlacement
from modelyard.controllers.preparation import PreparedContainer, Preparer
from modelyard.controllers.reconciler import KeyedReconciler, ResourceKey
from modelyard.controllers.server_paths import ServerPaths
from modelyard.desired.async_inference import AsyncInference
from modelyard.desired.capture import CaptureConfig, capture_summary
from modelyard.desired.deployment_policy import DeploymentPolicy
from modelyard.desired.endpoints import EndpointDesired
from modelyard.hosting.capture.service import CaptureService
from modelyard.hosting.capture.writer import CaptureWriter
from modelyard.hosting.container_chain import DIRECT
from modelyard.hosting.instances import InstanceClient
from modelyard.hosting.router import SERVING_STATUSES, EndpointRoutes, Router, TrafficShift, VariantRoutes
from modelyard.hosting.serverless import ServerlessGate
from modelyard.log_groups import deployment_group, endpoint_group
from modelyard.metrics.buffer import MetricBuffer
from modelyard.metrics.endpoint_meter import ENDPOINT_NAMESPACE
from modelyard.metrics.instance_usage import MeasuredElsewhere, RunningInstance
from modelyard.metrics.series import SeriesKey
from modelyard.runtime.errors import RuntimeLayerError
from modelyard.settings import Limits, MultiModelLimits
from modelyard.storage.errors import StorageError
from modelyard.store.database import Database
from modelyard.store.patches import Patch, patch_record
from modelyard.store.resources import Record, delete_record, get_record, get_record_for_update, records_of_kind

log = logging.getLogger("modelyard.controllers.endpoints.controller")
KIND = "endpoint"
STOP_GRACE_SECONDS = 10.0
CAPTURE_FLUSH_SECONDS = 30.0
SHUTDOWN_FLUSH_SECONDS = 5.0
"""At server shutdown, how long every capture writer may still upload (what is left stays staged on disk)."""
SUPERVISE_INTERVAL = 0.5
STUCK_PING_TIMEOUT_SECONDS = 2.0
"""After an invocation timed out, an instance must answer /ping within this (SageMaker's ping limit)."""
PING_RETRY_SECONDS = 0.2
"""After a failed ping, how long before the check after a timeout asks again."""


@dataclass
class VariantDeployment:
    """A variant's plan and its running instances."""

    plan: VariantPlan
    prepared: PreparedContainer
    instances: list[Instance] = field(default_factory=list)
    deployed_at: float = field(default_factory=time.time)
    gate: ServerlessGate | None = None
    """A serverless variant's admission and cold starts (None for instance-based variants)."""
    hosts: list[ModelHost] = field(default_factory=list)
    """A multi-model variant's instances (it has no ``instances`` of its own)."""
    members: list[tuple[str, PreparedContainer]] = field(default_factory=list)
    """A multi-container variant's containers by name (``prepared`` is the first); empty otherwise."""

    @property
    def multi_model(self) -> bool:
        """Whether the variant serves a multi-model container."""
        return self.plan.containers[0].mode == "MultiModel"

    def clients(self) -> list[InstanceClient]:
        """What the router sends this variant's calls to."""
        return [*(i.client for i in self.instances if not i.stopping), *self.hosts]

    def instance_count(self) -> int:
        """How many instances run."""
        return len(self.instances) + len(self.hosts)


@dataclass
class Deployment:
    """What runs for an endpoint right now."""

    config: str
    variants: dict[str, VariantDeployment]
    capture_document: dict[str, Any] | None = None
    capture: CaptureWriter | None = None
    asynchronous: AsyncInference | None = None
    companion: Deployment | None = None
    """The other fleet of an update in progress (or left half rolled back), serving ``companion_share``."""
    companion_share: float = 0.0


def desired_state(record: Record) -> EndpointDesired:
    """What the endpoint should run (a record without desired state keeps its current config)."""
    if record.desired is None:
        return EndpointDesired(record.document["EndpointConfigName"])
    return EndpointDesired.from_json(record.desired)


class EndpointController(KeyedReconciler):
    """Owns every endpoint's instances in this server process."""

    def __init__(self, db: Database, limits: Limits, router: Router, preparer: Preparer,
                 launcher: Launcher, *, backoff: RestartBackoff | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 server_paths: ServerPaths | None = None, captures: CaptureService | None = None,
                 metrics: MetricBuffer | None = None, multi_model: MultiModelLimits | None = None,
                 placement: InstancePlacement | None = None) -> None:
        """``backoff`` paces crash restarts; ``clock`` and ``sleep`` are injectable for tests;
        ``server_paths`` keeps host paths of the server's own files out of FailureReasons; ``captures``
        starts the data capture of deployments whose config asks for it; ``metrics`` receives each
        instance's ModelSetupTime; ``multi_model`` sets the memory budget, idle TTL and checks of
        multi-model instances; ``placement`` starts single-container instances (default: ``launcher``, on
        this machine; multi-container and multi-model instances always run here)."""
        super().__init__(log)
        self.backoff = backoff or RestartBackoff()
        self.server_paths = server_paths or ServerPaths(None)
        self.clock = clock
        self.sleep = sleep
        self._healthy_since: dict[str, float] = {}
        self._health_checks: set[str] = set()
        self._closing_captures: set[CaptureWriter] = set()
        """Capture writers of deployments being stopped, uploading what they captured (a shutdown shortens
        their wait to ``SHUTDOWN_FLUSH_SECONDS``)."""
        self.db = db
        self.limits = limits
        self.router = router
        self.preparer = preparer
        self.launcher = launcher
        self.placement: InstancePlacement = placement or launcher
        self.captures = captures
        self.metrics = metrics
        self.multi_model = multi_model or MultiModelLimits()
        self.deployments: dict[ResourceKey, Deployment] = {}
        self._supervisor: asyncio.Task[None] | None = None

    # lifecycle

    async def start(self) -> None:
        """Recover every stored endpoint and start supervising."""
        self.attach()
        records = await asyncio.to_thread(self._recovered_endpoints)
        for record, asynchronous in records:
            if record.status in (*SERVING_STATUSES, "Creating"):
                self.router.publish(record.account, record.region, self._placeholder(record, asynchronous))
            self.schedule(ResourceKey(record.account, record.region, record.name))
        self._supervisor = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        """Stop every instance (server shutdown)."""
        if self._supervisor:
            self._supervisor.cancel()
        for capture in self._closing_captures:
            capture.hurry(SHUTDOWN_FLUSH_SECONDS)
        self.cancel_tasks()
        for deployment in list(self.deployments.values()):
            await self._stop_all(deployment, grace=2.0, flush=SHUTDOWN_FLUSH_SECONDS)
        self.deployments.clear()

    def running_instances(self) -> list[RunningInstance]:
        """Every running instance with its processes (for the utilization sampler; safe from any thread: it
        reads copies, and a deployment changing meanwhile is read at the next sample). An instance on a
        cluster node comes with the latest reading its node sent, and is left out until one arrived."""
        running: list[RunningInstance] = []
        try:
            for key, deployment in list(self.deployments.items()):
                for variant_name, variant in list(deployment.variants.items()):
                    for instance in list(variant.instances):
                        reading = (instance.process.usage if isinstance(instance.process, MeasuredElsewhere)
                                   else None)
                        if instance.stopping or (instance.node is not None and reading is None):
                            continue
                        running.append(RunningInstance(key.account, key.region, key.name, variant_name,
                                                       instance.instance_id, instance.process.pids(),
                                                       instance.directory, reading))
        except RuntimeError:
            return running
        return running

    def loaded_models(self) -> list[LoadedModels]:
        """How many models each multi-model instance holds (for the LoadedModelCount sampler; safe from any
        thread, as ``running_instances``)."""
        counts: list[LoadedModels] = []
        try:
            for key, deployment in list(self.deployments.items()):
                for variant_name, variant in list(deployment.variants.items()):
                    counts.extend(LoadedModels(key.account, key.region, key.name, variant_name,
                                               host.metrics.loaded_model_count) for host in list(variant.hosts))
        except RuntimeError:
            return counts
        return counts

    # store access (blocking, run in threads)

    def _recovered_endpoints(self) -> list[tuple[Record, AsyncInference | None]]:
        """Every stored endpoint with its AsyncInferenceConfig, so an async endpoint's placeholder routes
        already refuse real-time calls (and take queued ones) while it restarts."""
        with self.db.session() as conn:
            found = []
            for record in records_of_kind(conn, "endpoint"):
                try:
                    asynchronous = endpoint_async(conn, record, desired_state(record))
                except PlanError:
                    asynchronous = None
                found.append((record, asynchronous))
            return found

    def _get(self, key: ResourceKey) -> Record | None:
        with self.db.session() as conn:
            return get_record(conn, key.account, key.region, KIND, key.name)

    def _plans(self, record: Record) -> tuple[list[VariantPlan], dict[str, Any] | None, AsyncInference | None]:
        with self.db.session() as conn:
            desired = desired_state(record)
            return (plan_variants(conn, record, desired), endpoint_capture(conn, record, desired),
                    endpoint_async(conn, record, desired))

    def _write(self, key: ResourceKey, patch: Patch, expect: str | None) -> bool:
        """Apply ``patch`` if the endpoint is still in status ``expect``; whether it was written."""
        with self.db.session(write=True) as conn:
            written = patch_record(conn, key.account, key.region, KIND, key.name, patch,
                                   status_field="EndpointStatus", expect=(expect,))
        return written is not None

    def _delete(self, key: ResourceKey) -> None:
        with self.db.session(write=True) as conn:
            record = get_record_for_update(conn, key.account, key.region, KIND, key.name)
            if record is not None and record.status == "Deleting":
                delete_record(conn, record)

    # reconcile

    async def reconcile(self, key: ResourceKey) -> None:
        """Drive one endpoint toward its desired state."""
        record = await asyncio.to_thread(self._get, key)
        current = self.deployments.get(key)
        if record is None or record.status == "Deleting":
            if current is not None:
                self.router.withdraw(*key)
                await self._stop_all(self.deployments.pop(key))
            self.router.withdraw(*key)
            if record is not None:
                await asyncio.to_thread(self._delete, key)
            return
        if record.status == "Failed" or (record.status == "UpdateRollbackFailed" and current is not None):
            return
        try:
            plans, capture, asynchronous = await asyncio.to_thread(self._plans, record)
            desired = desired_state(record)
            policy = DeploymentPolicy.from_document(desired.deployment)
            if current is None or current.config != desired.config or any(
                    name not in current.variants or current.variants[name].plan.fingerprint != p.fingerprint
                    for name, p in ((p.name, p) for p in plans)):
                if current is not None and record.status == "Updating" and policy.guarded:
                    if not await Rollout(self, key, record, current, policy).run(plans, capture, asynchronous):
                        return
                else:
                    await self._replace(key, record, plans, current, capture, asynchronous)
            else:
                await self._scale(key, record, current, plans)
        except (PlanError, InstanceFailed, RuntimeLayerError, StorageError) as exc:
            await self._fail(key, record, current, str(exc))
            return
        except Exception as exc:
            log.exception("endpoint %s: unexpected deployment error", key.name)
            await self._fail(key, record, current, f"modelyard could not deploy the endpoint: {exc}")
            return
        deployment = self.deployments[key]
        written = await asyncio.to_thread(self._write, key, Patch(
            {"EndpointStatus": "InService", "EndpointConfigName": deployment.config,
             "ProductionVariants": self._summaries(deployment), "FailureReason": None,
             "ShadowProductionVariants": self._summaries(deployment, shadow=True) or None,
             "PendingDeploymentSummary": None,
             "DataCaptureConfig": capture_summary(deployment.capture_document,
                                                  started=deployment.capture is not None)},
            desired=replace(desired_state(record), deployment=None).to_json()), record.status)
        routes = self.router.get(*key)
        if written and routes is not None:
            routes.status = "InService"

    async def _fail(self, key: ResourceKey, record: Record, current: Deployment | None, reason: str) -> None:
        reason = self.server_paths.neutral(reason)
        log.warning("endpoint %s: %s", key.name, reason)
        if current is not None and record.status == "Updating":
            self._publish(key, record, current)
            await asyncio.to_thread(self._write, key, Patch(
                {"EndpointStatus": "InService", "FailureReason": reason, "PendingDeploymentSummary": None,
                 "ProductionVariants": self._summaries(current)},
                desired=EndpointDesired(current.config).to_json()), record.status)
            return
        self.router.withdraw(*key)
        if current is not None:
            await self._stop_all(self.deployments.pop(key))
        capture = record.document.get("DataCaptureConfig")
        stopped = {**capture, "CaptureStatus": "Stopped"} if capture else None
        await asyncio.to_thread(self._write, key, Patch({"EndpointStatus": "Failed", "FailureReason": reason,
                                                         "DataCaptureConfig": stopped}), record.status)

    async def _replace(self, key: ResourceKey, record: Record, plans: list[VariantPlan],
                       old: Deployment | None, capture: dict[str, Any] | None = None,
                       asynchronous: AsyncInference | None = None) -> None:
        new = await self._build(key, record, plans, capture, asynchronous)
        self.deployments[key] = new
        self._publish(key, record, new)
        if old is not None:
            await self._stop_all(old)

    async def _build(self, key: ResourceKey, record: Record, plans: list[VariantPlan],
                     capture: dict[str, Any] | None, asynchronous: AsyncInference | None, *,
                     start_instances: bool = True) -> Deployment:
        """Prepare and start the desired config's deployment (its instances healthy; none started when
        ``start_instances`` is False: a rolling update starts them batch by batch); nothing is routed yet."""
        new = Deployment(desired_state(record).config, {}, capture, asynchronous=asynchronous)
        capture_config = CaptureConfig.from_document(capture)
        if capture_config is not None and self.captures is None:
            raise PlanError("This server was started without data capture; remove DataCaptureConfig")
        try:
            for plan in plans:
                if len(plan.containers) > 1:
                    members = await asyncio.to_thread(self._prepare_members, key, plan)
                    new.variants[plan.name] = VariantDeployment(plan, members[0][1], members=members)
                    continue
                prepared = await asyncio.to_thread(self._prepare_logged, key, plan)
                new.variants[plan.name] = self._variant_deployment(key, plan, prepared)
            if start_instances:
                await asyncio.gather(*(self._grow(key, record, v, v.plan.instance_count)
                                       for v in new.variants.values()))
            if capture_config is not None and self.captures is not None:
                new.capture = self.captures.start(key.account, key.region, key.name, capture_config)
        except BaseException:
            await self._stop_all(new)
            raise
        return new

    def _variant_deployment(self, key: ResourceKey, plan: VariantPlan,
                            prepared: PreparedContainer) -> VariantDeployment:
        variant = VariantDeployment(plan, prepared)
        if plan.serverless is not None:
            variant.gate = ServerlessGate(plan.serverless, self.limits.serverless_max_instances,
                                          lambda: self.spawn(self._start_on_demand(key, variant)), clock=self.clock)
        return variant

    async def _start_on_demand(self, key: ResourceKey, variant: VariantDeployment) -> None:
        """Start one more instance of a serverless variant because calls are waiting for capacity."""
        gate = variant.gate
        assert gate is not None
        began = self.clock()
        try:
            instance = await self._start(key, variant)
        except Exception as exc:
            reason = self.server_paths.neutral(str(exc) or type(exc).__name__)
            log.warning("endpoint %s: serverless instance failed to start: %s", key.name, reason)
            gate.start_failed(f"The serverless instance could not start: {reason}")
            return
        current = self.deployments.get(key)
        if current is None or not any(variant in d.variants.values() for d in (current, current.companion) if d):
            gate.start_failed("The endpoint's configuration changed while its instance started; retry")
            await self._stop(instance, grace=1.0)
            return
        gate.started(self.clock() - began)
        instance.writer.write_line(f"modelyard: serverless cold start took {self.clock() - began:.2f} s")
        variant.instances.append(instance)
        self._republish(key)

    def _prepare_logged(self, key: ResourceKey, plan: VariantPlan) -> PreparedContainer:
        """Prepare a variant's container, logging the steps (environment build ...) to its deployment log.

        The group is ``/modelyard/Endpoints/<endpoint>`` (stream ``<variant>``), beside SageMaker's
        ``/aws/sagemaker/Endpoints/<endpoint>`` that holds only the instances' own output.
        """
        container = plan.containers[0]
        with self.launcher.logs.scoped(key.account, key.region).writer(deployment_group(key.name),
                                                                        plan.name) as writer:
            writer.write_line(f"modelyard: preparing model {plan.model_name} (image {container.image})")
            try:
                prepared = prepare_base(self.preparer, plan, writer.write_line) if container.mode == "MultiModel" \
                    else self.preparer.prepare(container, progress=writer.write_line)
            except PlanError as exc:
                writer.write_line(f"modelyard: preparation failed: {self.server_paths.neutral(str(exc))}")
                raise
            writer.write_line(f"modelyard: environment ready; starting {plan.instance_count} instance(s)")
        return prepared

    def _prepare_members(self, key: ResourceKey, plan: VariantPlan) -> list[tuple[str, PreparedContainer]]:
        """Prepare every container of a multi-container variant (each its own environment), logging the
        steps to the variant's deployment log; all or none stay prepared."""
        members: list[tuple[str, PreparedContainer]] = []
        with self.launcher.logs.scoped(key.account, key.region).writer(deployment_group(key.name),
                                                                        plan.name) as writer:
            try:
                for name, container in zip(container_names(plan.containers), plan.containers, strict=True):
                    writer.write_line(f"modelyard: preparing container {name} of model {plan.model_name} "
                                      f"(image {container.image})")
                    try:
                        members.append((name, self.preparer.prepare(container, progress=writer.write_line)))
                    except PlanError as exc:
                        reason = self.server_paths.neutral(str(exc))
                        writer.write_line(f"modelyard: preparation of container {name} failed: {reason}")
                        raise PlanError(f"Container {name}: {exc}") from None
            except BaseException:
                for _, prepared in members:
                    self.preparer.release(prepared)
                raise
            writer.write_line(f"modelyard: {len(members)} containers ready ({plan.execution_mode}); starting "
                              f"{plan.instance_count} instance(s)")
        return members

    async def _scale(self, key: ResourceKey, record: Record, current: Deployment, plans: list[VariantPlan]) -> None:
        for plan in plans:
            variant = current.variants[plan.name]
            variant.plan = plan
            if variant.gate is not None and plan.serverless is not None:
                variant.gate.reshape(plan.serverless, self.limits.serverless_max_instances)
            missing = plan.instance_count - variant.instance_count()
            if missing > 0:
                await self._grow(key, record, variant, missing)
            elif missing < 0 and variant.multi_model:
                surplus_hosts = variant.hosts[missing:]
                del variant.hosts[missing:]
                self._publish(key, record, current)
                await asyncio.gather(*(h.close() for h in surplus_hosts))
            elif missing < 0 and variant.gate is None:
                surplus = variant.instances[missing:]
                del variant.instances[missing:]
                self._publish(key, record, current)
                await asyncio.gather(*(self._stop(i) for i in surplus))
        self._publish(key, record, current)

    async def _grow(self, key: ResourceKey, record: Record, variant: VariantDeployment, count: int) -> None:
        if variant.multi_model:
            setup = host_setup(key.account, key.region, key.name, variant.plan, variant.prepared,
                               self._log_group_arn(key.region, key.account, key.name), self.multi_model,
                               self.limits.health_check_timeout_seconds)
            hosts = [ModelHost(setup, self.preparer, self.launcher, self.metrics) for _ in range(count)]
            try:
                await asyncio.gather(*(h.ready() for h in hosts))
            except BaseException:
                await asyncio.gather(*(h.close() for h in hosts), return_exceptions=True)
                raise
            for host in hosts:
                host.start()
            variant.hosts.extend(hosts)
            return
        plan = variant.plan
        if not variant.members and plan.serverless is None:
            problem = await asyncio.to_thread(self.placement.capacity_problem, variant.prepared, plan.instance_type,
                                              variant.instance_count() + count)
            if problem is not None:
                raise InstanceFailed(problem)
        started = await asyncio.gather(*(self._start(key, variant) for _ in range(count)),
                                       return_exceptions=True)
        good = [i for i in started if isinstance(i, Instance)]
        errors = [e for e in started if isinstance(e, BaseException)]
        variant.instances.extend(good)
        if errors:
            raise errors[0]

    async def _start(self, key: ResourceKey, variant: VariantDeployment) -> Instance:
        serverless = variant.plan.serverless
        launched = time.perf_counter()
        plan = variant.plan
        if variant.members:
            shape = GroupShape(key.region, key.account, key.name, plan.name, endpoint_group(key.name), plan.name,
                               plan.execution_mode, plan.network_isolation, plan.instance_type, plan.volume_size_gb)
            instance = await asyncio.to_thread(start_group, self.launcher, shape, variant.members)
        else:
            instance = await asyncio.to_thread(self.placement.start, key.region, key.name, plan.name,
                                               variant.prepared, plan.network_isolation,
                                               endpoint_group(key.name), plan.instance_type,
                                               account=key.account, volume_gb=plan.volume_size_gb,
                                               memory_mb=serverless.memory_mb if serverless else None)
        try:
            await self.placement.wait_ready(instance, self.limits.health_check_timeout_seconds)
        except BaseException:
            await self._stop(instance)
            raise
        self._healthy_since[instance.instance_id] = self.clock()
        if self.metrics is not None:
            self.metrics.put_values(
                SeriesKey(key.account, key.region, ENDPOINT_NAMESPACE, "ModelSetupTime",
                          (("EndpointName", key.name), ("VariantName", variant.plan.name))),
                time.time(), "Microseconds", [(time.perf_counter() - launched) * 1e6])
        return instance

    async def _stop(self, instance: Instance, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop routing to ``instance``, let its calls in flight finish (none can once its process has
        exited: they fail on their own), then stop its process."""
        instance.stopping = True
        await asyncio.sleep(0)
        while instance.client.outstanding and instance.process.poll() is None:
            await asyncio.sleep(0.05)
        await instance.client.close()
        self._healthy_since.pop(instance.instance_id, None)
        await asyncio.to_thread(self.placement.stop, instance, grace)

    async def _stop_all(self, deployment: Deployment, grace: float = STOP_GRACE_SECONDS,
                        flush: float = CAPTURE_FLUSH_SECONDS) -> None:
        """Stop a deployment that is over, give back its prepared containers, and store what it captured
        (waiting at most ``flush`` seconds for the destination)."""
        if deployment.companion is not None:
            await self._stop_all(deployment.companion, grace, flush)
            deployment.companion = None
        instances = [i for v in deployment.variants.values() for i in v.instances]
        hosts = [h for v in deployment.variants.values() for h in v.hosts]
        await asyncio.gather(*(self._stop(i, grace) for i in instances), *(h.close() for h in hosts),
                             return_exceptions=True)
        for variant in deployment.variants.values():
            for prepared in [p for _, p in variant.members] or [variant.prepared]:
                self.preparer.release(prepared)
        capture = deployment.capture
        if capture is not None:
            self._closing_captures.add(capture)
            try:
                await asyncio.to_thread(capture.close, flush)
            finally:
                self._closing_captures.discard(capture)

    # routing and descriptions

    def _placeholder(self, record: Record, asynchronous: AsyncInference | None = None) -> EndpointRoutes:
        return EndpointRoutes(record.name, record.arn, self._log_group_arn(record.region, record.account, record.name),
                              {}, status=record.status or "Creating", asynchronous=asynchronous)

    @staticmethod
    def _log_group_arn(region: str, account: str, name: str) -> str:
        return log_group_arn(region, account, endpoint_group(name))

    def _publish(self, key: ResourceKey, record: Record, deployment: Deployment) -> None:
        self.router.publish(key.account, key.region, self._routes(key, record, deployment))

    def _routes(self, key: ResourceKey, record: Record, deployment: Deployment) -> EndpointRoutes:
        """The routes of a deployment: its production variants, its shadow, and the share of calls its
        companion fleet takes while an update shifts traffic."""
        variants = {name: VariantRoutes(name, v.plan.weight, v.clients(), multi_model=v.multi_model,
                                        serverless=v.gate, containers=tuple(n for n, _ in v.members),
                                        direct=v.plan.execution_mode == DIRECT and bool(v.members))
                    for name, v in deployment.variants.items()}
        for variant in deployment.variants.values():
            if variant.gate is not None:
                variant.gate.set_instances(len(variants[variant.plan.name].instances))
        status = record.status if record.status in SERVING_STATUSES else "InService"
        sink = deployment.capture.sink if deployment.capture is not None else None
        routes = EndpointRoutes(record.name, record.arn, self._log_group_arn(key.region, key.account, key.name),
                                {n: v for n, v in variants.items() if not deployment.variants[n].plan.shadow},
                                status, capture=sink, asynchronous=deployment.asynchronous,
                                shadow=shadow_routes(deployment, variants))
        if deployment.companion is not None:
            routes.shift = TrafficShift(self._routes(key, record, deployment.companion), deployment.companion_share)
        return routes

    @staticmethod
    def _summaries(deployment: Deployment, shadow: bool = False) -> list[dict[str, Any]]:
        """DescribeEndpoint's ProductionVariants (ShadowProductionVariants with ``shadow``)."""
        summaries = []
        for name, v in deployment.variants.items():
            if v.plan.shadow != shadow:
                continue
            summary: dict[str, Any] = {
                "VariantName": name,
                "DeployedImages": [{"SpecifiedImage": p.plan.image, "ResolvedImage": p.image.uri,
                                    "ResolutionTime": v.deployed_at}
                                   for p in [p for _, p in v.members] or [v.prepared]],
                "CurrentWeight": v.plan.weight, "DesiredWeight": v.plan.weight,
            }
            if v.plan.serverless is not None:
                shown = v.plan.serverless.document()
                summary.update(CurrentServerlessConfig=shown, DesiredServerlessConfig=shown)
            else:
                summary.update(CurrentInstanceCount=v.instance_count(), DesiredInstanceCount=v.plan.instance_count)
            summaries.append(summary)
        return summaries

    # supervision

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(SUPERVISE_INTERVAL)
            for key, deployment in list(self.deployments.items()):
                for variant in deployment.variants.values():
                    if variant.gate is not None:
                        self._retire_idle(key, variant, variant.gate)
                    for instance in list(variant.instances):
                        if instance.stopping:
                            continue
                        if instance.process.poll() is not None:
                            self._replace_crashed(key, variant, instance)
                        elif instance.client.timeouts and instance.instance_id not in self._health_checks:
                            self._health_checks.add(instance.instance_id)
                            self.spawn(self._check_after_timeout(instance))

    def _retire_idle(self, key: ResourceKey, variant: VariantDeployment, gate: ServerlessGate) -> None:
        """Stop a serverless variant's instances beyond its provisioned ones once it has been idle for the
        idle time (``MODELYARD_SERVERLESS_IDLE_SECONDS``): an idle endpoint holds no process."""
        surplus = len(variant.instances) - variant.plan.instance_count
        if surplus <= 0 or gate.starting or gate.idle_for() < self.limits.serverless_idle_seconds:
            return
        retired = [i for i in variant.instances if not i.client.outstanding][:surplus]
        for instance in retired:
            variant.instances.remove(instance)
            instance.writer.write_line(f"modelyard: serverless instance idle for "
                                       f"{self.limits.serverless_idle_seconds:g} s; stopping it")
        self._republish(key)
        for instance in retired:
            self.spawn(self._stop(instance, grace=2.0))

    async def _check_after_timeout(self, instance: Instance) -> None:
        """An instance that let an invocation time out and no longer answers /ping is stopped; the next
        supervision pass replaces it like a crashed one (a stuck single-threaded server, say). modelyard's
        toolkit restarts itself to free a handler stuck on an abandoned call and loads the model again, so a
        toolkit instance (a multi-container one whose timed-out containers are all toolkits) has the startup
        health-check timeout to answer; any other has ``STUCK_PING_TIMEOUT_SECONDS``. An instance that exits
        meanwhile is left to the crash replacement."""
        try:
            patience = (self.limits.health_check_timeout_seconds
                        if getattr(instance.client, "restarts_when_stuck", False) else STUCK_PING_TIMEOUT_SECONDS)
            instance.client.timeouts = 0
            if await self._answers_ping(instance, patience) or instance.stopping or instance.process.poll() is not None:
                return
            instance.writer.write_line(
                f"modelyard: an invocation timed out and the instance did not answer /ping within "
                f"{patience:g} s; replacing it")
            await asyncio.to_thread(instance.process.stop, 1.0)
        finally:
            self._health_checks.discard(instance.instance_id)

    async def _answers_ping(self, instance: Instance, patience: float) -> bool:
        """Whether ``instance`` answers /ping within ``patience`` seconds, asking again after a failed
        connection (one made before a restart) while there is time left and the instance runs."""
        deadline = self.clock() + patience
        while True:
            left = deadline - self.clock()
            if await instance.client.ping(left):
                return True
            if deadline - self.clock() < PING_RETRY_SECONDS or instance.stopping or instance.process.poll() is not None:
                return False
            await self.sleep(PING_RETRY_SECONDS)

    def _replace_crashed(self, key: ResourceKey, variant: VariantDeployment, instance: Instance) -> None:
        log.warning("endpoint %s: instance %s exited with %s; restarting it", key.name, instance.instance_id,
                    instance.process.returncode)
        instance.writer.write_line(f"modelyard: instance exited with code {instance.process.returncode}; "
                                   "starting a replacement")
        variant.instances.remove(instance)
        self._republish(key)
        if variant.gate is not None and len(variant.instances) >= variant.plan.instance_count:
            self._healthy_since.pop(instance.instance_id, None)
            self.spawn(self._stop(instance, grace=0.1))
            return
        healthy_since = self._healthy_since.pop(instance.instance_id, None)
        healthy = 0.0 if healthy_since is None else self.clock() - healthy_since
        instance.restarts = self.backoff.restarts_so_far(instance.restarts, healthy)
        self.spawn(self._restart(key, variant, instance))

    async def _restart(self, key: ResourceKey, variant: VariantDeployment, crashed: Instance) -> None:
        await self._stop(crashed, grace=0.1)
        await self.sleep(self.backoff.delay(crashed.restarts))
        async with self.lock(key):
            if self.deployments.get(key) is None or variant not in self.deployments[key].variants.values():
                return
            try:
                replacement = await self._start(key, variant)
            except (InstanceFailed, PlanError, OSError) as exc:
                log.warning("endpoint %s: replacement failed: %s", key.name, exc)
                crashed.restarts += 1
                self.spawn(self._restart(key, variant, crashed))
                return
            replacement.restarts = crashed.restarts + 1
            variant.instances.append(replacement)
            self._republish(key)

    def _republish(self, key: ResourceKey) -> None:
        deployment = self.deployments.get(key)
        routes = self.router.get(*key)
        if deployment is None or routes is None:
            return
        for name, variant in deployment.variants.items():
            routed = routes.variants.get(name) or (
                routes.shadow.variant if routes.shadow is not None and routes.shadow.variant.name == name else None)
            if routed is not None:
                live = variant.clients()
                routed.instances = live
                if variant.gate is not None:
                    variant.gate.set_instances(len(live))
        routes.reweigh()
