"""The endpoint controller: reconciles each endpoint's desired state with running instances.

    notify(name) ──► queue ──► reconcile(name), one at a time per endpoint
        Deleting            -> stop instances, withdraw routes, delete the record
        Creating / recovery -> prepare, start every instance, wait for /ping, publish, InService | Failed
        Updating (config)   -> start the new deployment, healthy first, then switch traffic and stop the old
        Updating (weights)  -> scale variants in place and reweigh
    supervise()  ──► an instance that exits on its own is replaced while the others keep serving

Desired state lives in the endpoint document (``_DesiredConfig``, ``_DesiredWeights``); every
transition is written back to the store, so a restarted server rebuilds everything from it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from modelyard.arns import log_group_arn
from modelyard.controllers.endpoints.plans import PlanError, VariantPlan, plan_variants
from modelyard.controllers.launcher import Instance, InstanceFailed, Launcher
from modelyard.controllers.preparation import PreparedContainer, Preparer
from modelyard.hosting.router import EndpointRoutes, Router, VariantRoutes
from modelyard.runtime.errors import RuntimeLayerError
from modelyard.services.context import AppState
from modelyard.storage.errors import StorageError
from modelyard.store.resources import Record, delete_record, get_record, records_of_kind, update_record

log = logging.getLogger("modelyard.controllers.endpoints.controller")
Key = tuple[str, str, str]
STOP_GRACE_SECONDS = 10.0
DEPLOYMENT_LOG_GROUP = "/modelyard/Endpoints/{endpoint}"
SUPERVISE_INTERVAL = 0.5


@dataclass
class VariantDeployment:
    """A variant's plan and its running instances."""

    plan: VariantPlan
    prepared: PreparedContainer
    instances: list[Instance] = field(default_factory=list)
    deployed_at: float = field(default_factory=time.time)


@dataclass
class Deployment:
    """What runs for an endpoint right now."""

    config: str
    variants: dict[str, VariantDeployment]


class EndpointController:
    """Owns every endpoint's instances in this server process."""

    def __init__(self, state: AppState, router: Router, preparer: Preparer, launcher: Launcher) -> None:
        self.state = state
        self.router = router
        self.preparer = preparer
        self.launcher = launcher
        self.deployments: dict[Key, Deployment] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        self._pending: set[Key] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._supervisor: asyncio.Task[None] | None = None

    # lifecycle

    async def start(self) -> None:
        """Recover every stored endpoint and start supervising."""
        self._loop = asyncio.get_running_loop()
        records = await asyncio.to_thread(self._all_endpoints)
        for record in records:
            if record.status in ("InService", "Updating", "Creating"):
                self.router.publish(record.region, self._placeholder(record))
            self._schedule((record.account, record.region, record.name))
        self._supervisor = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        """Stop every instance (server shutdown)."""
        if self._supervisor:
            self._supervisor.cancel()
        for task in list(self._tasks):
            task.cancel()
        for deployment in list(self.deployments.values()):
            await self._stop_all(deployment, grace=2.0)
        self.deployments.clear()

    def notify(self, account: str, region: str, name: str) -> None:
        """Thread-safe: the desired state of an endpoint changed."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._schedule, (account, region, name))

    def _schedule(self, key: Key) -> None:
        if key in self._pending:
            return
        self._pending.add(key)
        self._spawn(self._run(key))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def _run(self, key: Key) -> None:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            self._pending.discard(key)
            try:
                await self.reconcile(key)
            except Exception:
                log.exception("reconciling endpoint %s failed", key[2])

    # store access (blocking, run in threads)

    def _all_endpoints(self) -> list[Record]:
        with self.state.db.session() as conn:
            return records_of_kind(conn, "endpoint")

    def _get(self, key: Key) -> Record | None:
        with self.state.db.session() as conn:
            return get_record(conn, key[0], key[1], "endpoint", key[2])

    def _plans(self, record: Record) -> list[VariantPlan]:
        with self.state.db.session() as conn:
            return plan_variants(conn, record, record.document["_DesiredConfig"],
                                 record.document.get("_DesiredWeights"))

    def _write(self, key: Key, changes: dict[str, Any], expect: str | None = None) -> None:
        with self.state.db.session(write=True) as conn:
            record = get_record(conn, *key[:2], "endpoint", key[2])
            if record is None or (expect is not None and record.status != expect):
                return
            document = {**record.document, **changes, "LastModifiedTime": time.time()}
            document = {k: v for k, v in document.items() if v is not None}
            update_record(conn, record, document=document, modified_at=document["LastModifiedTime"],
                          status=document["EndpointStatus"])

    def _delete(self, key: Key) -> None:
        with self.state.db.session(write=True) as conn:
            record = get_record(conn, *key[:2], "endpoint", key[2])
            if record is not None:
                delete_record(conn, record)

    # reconcile

    async def reconcile(self, key: Key) -> None:
        """Drive one endpoint toward its desired state."""
        record = await asyncio.to_thread(self._get, key)
        current = self.deployments.get(key)
        if record is None or record.status == "Deleting":
            if current is not None:
                self.router.withdraw(key[1], key[2])
                await self._stop_all(self.deployments.pop(key))
            self.router.withdraw(key[1], key[2])
            if record is not None:
                await asyncio.to_thread(self._delete, key)
            return
        if record.status == "Failed":
            return
        try:
            plans = await asyncio.to_thread(self._plans, record)
            if current is None or current.config != record.document["_DesiredConfig"] or any(
                    name not in current.variants or current.variants[name].plan.fingerprint != p.fingerprint
                    for name, p in ((p.name, p) for p in plans)):
                await self._replace(key, record, plans, current)
            else:
                await self._scale(key, record, current, plans)
        except (PlanError, InstanceFailed, RuntimeLayerError, StorageError) as exc:
            await self._fail(key, record, current, str(exc))
            return
        except Exception as exc:
            log.exception("endpoint %s: unexpected deployment error", key[2])
            await self._fail(key, record, current, f"modelyard could not deploy the endpoint: {exc}")
            return
        deployment = self.deployments[key]
        await asyncio.to_thread(self._write, key, {
            "EndpointStatus": "InService", "EndpointConfigName": deployment.config,
            "ProductionVariants": self._summaries(deployment), "_DesiredWeights": {},
            "FailureReason": None})
        routes = self.router.get(key[1], key[2])
        if routes is not None:
            routes.status = "InService"

    async def _fail(self, key: Key, record: Record, current: Deployment | None, reason: str) -> None:
        log.warning("endpoint %s: %s", key[2], reason)
        if current is not None and record.status == "Updating":
            self._publish(key, record, current)
            await asyncio.to_thread(self._write, key, {
                "EndpointStatus": "InService", "FailureReason": reason, "_DesiredConfig": current.config,
                "_DesiredWeights": {}, "ProductionVariants": self._summaries(current)})
            return
        self.router.withdraw(key[1], key[2])
        if current is not None:
            await self._stop_all(self.deployments.pop(key))
        await asyncio.to_thread(self._write, key, {"EndpointStatus": "Failed", "FailureReason": reason})

    async def _replace(self, key: Key, record: Record, plans: list[VariantPlan], old: Deployment | None) -> None:
        new = Deployment(record.document["_DesiredConfig"], {})
        try:
            for plan in plans:
                if len(plan.containers) > 1:
                    raise PlanError(f"Variant {plan.name}: modelyard runs single-container models only for now "
                                    f"(model {plan.model_name} has {len(plan.containers)} containers)")
                if plan.containers[0].mode == "MultiModel":
                    raise PlanError(f"Variant {plan.name}: multi-model endpoints are not supported yet")
                prepared = await asyncio.to_thread(self._prepare_logged, key, plan)
                new.variants[plan.name] = VariantDeployment(plan, prepared)
            await asyncio.gather(*(self._grow(key, record, v, v.plan.instance_count)
                                   for v in new.variants.values()))
        except BaseException:
            await self._stop_all(new)
            raise
        self.deployments[key] = new
        self._publish(key, record, new)
        if old is not None:
            await self._stop_all(old)

    def _prepare_logged(self, key: Key, plan: VariantPlan) -> PreparedContainer:
        """Prepare a variant's container, logging the steps (environment build ...) to its deployment log.

        The group is ``/modelyard/Endpoints/<endpoint>`` (stream ``<variant>``), beside SageMaker's
        ``/aws/sagemaker/Endpoints/<endpoint>`` that holds only the instances' own output.
        """
        container = plan.containers[0]
        with self.launcher.logs.writer(DEPLOYMENT_LOG_GROUP.format(endpoint=key[2]), plan.name) as writer:
            writer.write_line(f"modelyard: preparing model {plan.model_name} (image {container.image})")
            try:
                prepared = self.preparer.prepare(container, progress=writer.write_line)
            except PlanError as exc:
                writer.write_line(f"modelyard: preparation failed: {exc}")
                raise
            writer.write_line(f"modelyard: environment ready; starting {plan.instance_count} instance(s)")
        return prepared

    async def _scale(self, key: Key, record: Record, current: Deployment, plans: list[VariantPlan]) -> None:
        for plan in plans:
            variant = current.variants[plan.name]
            variant.plan = plan
            missing = plan.instance_count - len(variant.instances)
            if missing > 0:
                await self._grow(key, record, variant, missing)
            elif missing < 0:
                surplus = variant.instances[missing:]
                del variant.instances[missing:]
                self._publish(key, record, current)
                await asyncio.gather(*(self._stop(i) for i in surplus))
        self._publish(key, record, current)

    async def _grow(self, key: Key, record: Record, variant: VariantDeployment, count: int) -> None:
        started = await asyncio.gather(*(self._start(key, variant) for _ in range(count)),
                                       return_exceptions=True)
        good = [i for i in started if isinstance(i, Instance)]
        errors = [e for e in started if isinstance(e, BaseException)]
        variant.instances.extend(good)
        if errors:
            raise errors[0]

    async def _start(self, key: Key, variant: VariantDeployment) -> Instance:
        group = f"/aws/sagemaker/Endpoints/{key[2]}"
        instance = await asyncio.to_thread(self.launcher.start, key[1], key[2], variant.plan.name,
                                           variant.prepared, variant.plan.network_isolation, group)
        try:
            await self.launcher.wait_ready(instance, self.state.settings.limits.health_check_timeout_seconds)
        except BaseException:
            await self._stop(instance)
            raise
        return instance

    async def _stop(self, instance: Instance, grace: float = STOP_GRACE_SECONDS) -> None:
        instance.stopping = True
        await asyncio.sleep(0)
        while instance.client.outstanding:
            await asyncio.sleep(0.05)
        await instance.client.close()
        await asyncio.to_thread(self.launcher.stop, instance, grace)

    async def _stop_all(self, deployment: Deployment, grace: float = STOP_GRACE_SECONDS) -> None:
        instances = [i for v in deployment.variants.values() for i in v.instances]
        await asyncio.gather(*(self._stop(i, grace) for i in instances), return_exceptions=True)

    # routing and descriptions

    def _placeholder(self, record: Record) -> EndpointRoutes:
        return EndpointRoutes(record.name, record.arn, self._log_group_arn(record.region, record.account, record.name),
                              {}, status=record.status or "Creating")

    @staticmethod
    def _log_group_arn(region: str, account: str, name: str) -> str:
        return log_group_arn(region, account, f"/aws/sagemaker/Endpoints/{name}")

    def _publish(self, key: Key, record: Record, deployment: Deployment) -> None:
        variants = {name: VariantRoutes(name, v.plan.weight, [i.client for i in v.instances if not i.stopping])
                    for name, v in deployment.variants.items()}
        status = record.status if record.status in ("InService", "Updating") else "InService"
        self.router.publish(key[1], EndpointRoutes(record.name, record.arn,
                                                   self._log_group_arn(key[1], key[0], key[2]), variants, status))

    @staticmethod
    def _summaries(deployment: Deployment) -> list[dict[str, Any]]:
        return [{
            "VariantName": name,
            "DeployedImages": [{"SpecifiedImage": v.prepared.plan.image, "ResolvedImage": v.prepared.image.uri,
                                "ResolutionTime": v.deployed_at}],
            "CurrentWeight": v.plan.weight, "DesiredWeight": v.plan.weight,
            "CurrentInstanceCount": len(v.instances), "DesiredInstanceCount": v.plan.instance_count,
        } for name, v in deployment.variants.items()]

    # supervision

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(SUPERVISE_INTERVAL)
            for key, deployment in list(self.deployments.items()):
                for variant in deployment.variants.values():
                    for instance in list(variant.instances):
                        if not instance.stopping and instance.process.poll() is not None:
                            self._replace_crashed(key, variant, instance)

    def _replace_crashed(self, key: Key, variant: VariantDeployment, instance: Instance) -> None:
        log.warning("endpoint %s: instance %s exited with %s; restarting it", key[2], instance.instance_id,
                    instance.process.returncode)
        instance.writer.write_line(f"modelyard: instance exited with code {instance.process.returncode}; "
                                   "starting a replacement")
        variant.instances.remove(instance)
        self._republish(key)
        self._spawn(self._restart(key, variant, instance))

    async def _restart(self, key: Key, variant: VariantDeployment, crashed: Instance) -> None:
        await self._stop(crashed, grace=0.1)
        delay = min(2 ** crashed.restarts * 0.5, 30.0)
        await asyncio.sleep(delay if crashed.restarts else 0)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if self.deployments.get(key) is None or variant not in self.deployments[key].variants.values():
                return
            try:
                replacement = await self._start(key, variant)
            except (InstanceFailed, PlanError, OSError) as exc:
                log.warning("endpoint %s: replacement failed: %s", key[2], exc)
                crashed.restarts += 1
                self._spawn(self._restart(key, variant, crashed))
                return
            replacement.restarts = crashed.restarts + 1
            variant.instances.append(replacement)
            self._republish(key)

    def _republish(self, key: Key) -> None:
        deployment = self.deployments.get(key)
        routes = self.router.get(key[1], key[2])
        if deployment is None or routes is None:
            return
        for name, variant in deployment.variants.items():
            if name in routes.variants:
                routes.variants[name].instances = [i.client for i in variant.instances if not i.stopping]
        routes.reweigh()
