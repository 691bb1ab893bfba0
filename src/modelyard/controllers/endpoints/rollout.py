"""Guarded endpoint updates: blue/green traffic shifting and rolling batches, with alarm rollback.

    build the green fleet (healthy first; a rolling update starts none yet)
    blue/green: for each share of DeploymentPolicy.shares: route that share to green, bake WaitIntervalInSeconds
                then bake TerminationWaitInSeconds with all traffic on green
    rolling:    for each batch: start it on green, route by capacity, stop as many blue instances, bake
    while baking: every ALARM_POLL_SECONDS read the endpoint's status and its rollback alarms
        an alarm in ALARM, or MaximumExecutionTimeoutInSeconds passed -> roll back:
            RollingBack, all traffic to blue (a rolling rollback first restarts the blue instances it stopped,
            RollbackMaximumBatchSize at a time), green stopped, InService on the old config with a FailureReason;
            blue instances that cannot be restarted -> UpdateRollbackFailed, serving the mix
        DeleteEndpoint meanwhile -> green stopped, the delete pass takes over
    success -> green becomes the deployment, blue stops after its calls in flight end

The blue deployment carries green as its ``companion``, so the controller's routes send green its share
(``hosting.router.TrafficShift``) and stopping blue stops a fleet left half rolled back too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from modelyard.controllers.endpoints.plans import VariantPlan
from modelyard.controllers.reconciler import ResourceKey
from modelyard.desired.async_inference import AsyncInference
from modelyard.desired.deployment_policy import ROLLING, DeploymentPolicy
from modelyard.desired.endpoints import EndpointDesired
from modelyard.log_groups import deployment_group
from modelyard.store import alarms as stored_alarms
from modelyard.store.patches import Patch
from modelyard.store.resources import Record, get_record

if TYPE_CHECKING:
    from modelyard.controllers.endpoints.controller import Deployment, EndpointController, VariantDeployment

log = logging.getLogger("modelyard.controllers.endpoints.rollout")
ALARM_POLL_SECONDS = 0.2
"""How often a baking step reads the endpoint's status and its rollback alarms."""
LOG_STREAM = "rollout"


class _RollBack(Exception):
    """An alarm fired or the deployment ran out of time; the message is the FailureReason."""


class _Aborted(Exception):
    """The endpoint left Updating (deleted meanwhile): drop the green fleet, write nothing."""


class Rollout:
    """One guarded update of one endpoint from ``blue`` to the desired config (run under its key lock)."""

    def __init__(self, controller: EndpointController, key: ResourceKey, record: Record, blue: Deployment,
                 policy: DeploymentPolicy) -> None:
        self.controller = controller
        self.key = key
        self.record = record
        self.blue = blue
        self.policy = policy
        self.green: Deployment | None = None
        self.started = time.time()
        began = controller.clock()
        self.deadline = began + policy.max_seconds if policy.max_seconds else None

    async def run(self, plans: list[VariantPlan], capture: dict[str, Any] | None,
                  asynchronous: AsyncInference | None) -> bool:
        """True when the new config took all traffic (the caller records InService); False when the update
        was rolled back (recorded here) or the endpoint was deleted meanwhile. A green fleet that cannot
        start raises, as a plain update does."""
        c = self.controller
        self._log(f"deploying {self.record.document.get('EndpointConfigName')} -> {desired_config(self.record)} "
                  f"({self.policy.kind} {self.policy.traffic}, alarms {list(self.policy.alarms) or 'none'})")
        await self._note("Creating", "Launching the new fleet", plans)
        rolling = self.policy.kind == ROLLING
        self.green = await c._build(self.key, self.record, plans, capture, asynchronous,
                                    start_instances=not rolling)
        try:
            await self._check()
            if rolling:
                await self._rolling()
            else:
                await self._blue_green()
        except _Aborted:
            await self._drop_green()
            return False
        except _RollBack as exc:
            await self._roll_back(str(exc))
            return False
        except Exception as exc:
            log.warning("endpoint %s: deployment step failed: %s", self.key.name, exc)
            await self._roll_back(f"The deployment of endpoint configuration {self.green.config} failed: "
                                  f"{c.server_paths.neutral(str(exc) or type(exc).__name__)}")
            return False
        self.blue.companion, self.blue.companion_share = None, 0.0
        c.deployments[self.key] = self.green
        c._publish(self.key, self.record, self.green)
        self._log("all traffic on the new fleet; stopping the old fleet")
        await c._stop_all(self.blue)
        return True

    # blue/green

    async def _blue_green(self) -> None:
        green = self._green()
        fleet = sum(v.plan.instance_count for v in green.variants.values() if not v.plan.shadow)
        shares = self.policy.shares(fleet)
        for step, share in enumerate(shares, 1):
            self._shift(share)
            self._log(f"step {step}/{len(shares)}: {share * 100:g} % of traffic on the new fleet; baking "
                      f"{self.policy.wait_seconds} s")
            await self._note("Baking", f"Step {step} of {len(shares)}: {share * 100:g} % of traffic on the "
                             f"new fleet; baking for {self.policy.wait_seconds} s")
            await self._bake(self.policy.wait_seconds)
        await self._final_bake()

    async def _final_bake(self) -> None:
        self._log(f"final baking period of {self.policy.termination_wait_seconds} s")
        await self._note("Baking", f"All traffic on the new fleet; final baking period of "
                         f"{self.policy.termination_wait_seconds} s before the old fleet stops")
        await self._bake(self.policy.termination_wait_seconds)

    # rolling

    async def _rolling(self) -> None:
        c, green = self.controller, self._green()
        name = next(n for n, v in green.variants.items() if not v.plan.shadow)
        new, old = green.variants[name], self.blue.variants[name]
        await asyncio.gather(*(c._grow(self.key, self.record, v, v.plan.instance_count)
                               for n, v in green.variants.items() if n != name))
        batches = self.policy.batches(new.plan.instance_count)
        for step, batch in enumerate(batches, 1):
            await self._note("Creating", f"Batch {step} of {len(batches)}: starting {batch} instance(s)")
            await c._grow(self.key, self.record, new, batch)
            self._shift_by_capacity(new, old)
            await self._retire(old, min(batch, old.instance_count() - 1) if step < len(batches) else 0)
            self._shift_by_capacity(new, old)
            self._log(f"batch {step}/{len(batches)}: {new.instance_count()} new and {old.instance_count()} old "
                      f"instance(s) serving; baking {self.policy.wait_seconds} s")
            await self._note("Baking", f"Batch {step} of {len(batches)}: {new.instance_count()} new instance(s) "
                             f"serving; baking for {self.policy.wait_seconds} s")
            await self._bake(self.policy.wait_seconds)
        self._shift(1.0)

    def _shift_by_capacity(self, new: VariantDeployment, old: VariantDeployment) -> None:
        total = new.instance_count() + old.instance_count()
        self._shift(new.instance_count() / total if total else 1.0)

    async def _retire(self, variant: VariantDeployment, count: int) -> None:
        """Take ``count`` instances out of the routes, then stop them once their calls in flight end."""
        if count <= 0:
            return
        c = self.controller
        if variant.multi_model:
            hosts = variant.hosts[-count:]
            del variant.hosts[-count:]
            self._publish()
            await asyncio.gather(*(h.close() for h in hosts))
            return
        retired = variant.instances[-count:]
        del variant.instances[-count:]
        self._publish()
        await asyncio.gather(*(c._stop(i) for i in retired))

    # baking and rollback

    async def _bake(self, seconds: float) -> None:
        c = self.controller
        end = c.clock() + seconds
        while True:
            await self._check()
            left = end - c.clock()
            if left <= 0:
                return
            await c.sleep(min(ALARM_POLL_SECONDS, left))

    async def _check(self) -> None:
        """Raise _Aborted when the endpoint left Updating, _RollBack when an alarm fires or time is up."""
        status, firing = await asyncio.to_thread(self._observe)
        if status != "Updating":
            raise _Aborted(status)
        if firing:
            name, reason = firing[0]
            raise _RollBack(f"Deployment of endpoint configuration {self._green_config()} was rolled back: "
                            f"alarm {name} entered ALARM state ({reason})")
        if self.deadline is not None and self.controller.clock() > self.deadline:
            raise _RollBack(f"Deployment of endpoint configuration {self._green_config()} was rolled back: it "
                            f"did not finish within MaximumExecutionTimeoutInSeconds ({self.policy.max_seconds} s)")

    def _observe(self) -> tuple[str | None, list[tuple[str, str]]]:
        key = self.key
        with self.controller.db.session() as conn:
            record = get_record(conn, key.account, key.region, "endpoint", key.name)
            alarms = stored_alarms.list_alarms(conn, key.account, key.region, names=list(self.policy.alarms)) \
                if self.policy.alarms else []
        firing = [(a.name, str(a.document.get("StateReason") or "")) for a in alarms if a.state == "ALARM"]
        return (record.status if record is not None else None), firing

    async def _roll_back(self, reason: str) -> None:
        c = self.controller
        reason = reason[:1024]
        self._log(f"rolling back: {reason}")
        await asyncio.to_thread(c._write, self.key, Patch({"EndpointStatus": "RollingBack", "FailureReason": reason},
                                                          desired=EndpointDesired(self.blue.config).to_json()),
                                "Updating")
        if self.policy.kind == ROLLING and not await self._restore_blue(reason):
            return
        self.blue.companion, self.blue.companion_share = None, 0.0
        c._publish(self.key, self.record, self.blue)
        await self._drop_green()
        await asyncio.to_thread(c._write, self.key, Patch(
            {"EndpointStatus": "InService", "FailureReason": reason, "EndpointConfigName": self.blue.config,
             "ProductionVariants": c._summaries(self.blue), "PendingDeploymentSummary": None,
             "ShadowProductionVariants": c._summaries(self.blue, shadow=True) or None},
            desired=EndpointDesired(self.blue.config).to_json()), "RollingBack")
        routes = c.router.get(*self.key)
        if routes is not None:
            routes.status = "InService"
        self._log("rolled back; the old fleet serves all traffic")

    async def _restore_blue(self, reason: str) -> bool:
        """Restart the blue instances a rolling update stopped, RollbackMaximumBatchSize at a time, retiring
        as many green ones each time; False (UpdateRollbackFailed written) when they cannot start."""
        c, green = self.controller, self._green()
        for name, old in self.blue.variants.items():
            new = green.variants.get(name)
            missing = old.plan.instance_count - old.instance_count()
            for batch in self.policy.rollback_batches(missing) if missing > 0 else []:
                try:
                    await c._grow(self.key, self.record, old, batch)
                except Exception as exc:
                    failed = f"{reason}; the rollback could not restart the old instances: {exc}"[:1024]
                    self._log(failed)
                    await asyncio.to_thread(c._write, self.key, Patch(
                        {"EndpointStatus": "UpdateRollbackFailed", "FailureReason": c.server_paths.neutral(failed),
                         "PendingDeploymentSummary": None}), "RollingBack")
                    return False
                if new is not None:
                    self._shift_by_capacity(new, old)
                    await self._retire(new, min(batch, new.instance_count()))
                    self._shift_by_capacity(new, old)
        return True

    async def _drop_green(self) -> None:
        green = self.green
        if self.blue.companion is green:
            self.blue.companion, self.blue.companion_share = None, 0.0
            self._publish()
        if green is not None:
            await self.controller._stop_all(green)

    # routes, records, logs

    def _shift(self, share: float) -> None:
        self.blue.companion, self.blue.companion_share = self._green(), share
        self._publish()

    def _publish(self) -> None:
        if self.controller.deployments.get(self.key) is self.blue:
            self.controller._publish(self.key, self.record, self.blue)

    def _green(self) -> Deployment:
        assert self.green is not None
        return self.green

    def _green_config(self) -> str:
        return self.green.config if self.green is not None else desired_config(self.record)

    async def _note(self, status: str, message: str, plans: list[VariantPlan] | None = None) -> None:
        """Show the deployment's progress in DescribeEndpoint's PendingDeploymentSummary."""
        now = time.time()
        if self.green is not None:
            variants = [(v.plan, v.instance_count()) for v in self.green.variants.values()]
        else:
            variants = [(p, 0) for p in plans or []]

        def summary(plan: VariantPlan, current: int) -> dict[str, Any]:
            shown: dict[str, Any] = {"VariantName": plan.name, "DesiredWeight": plan.weight,
                                     "CurrentWeight": plan.weight if current else 0.0,
                                     "VariantStatus": [{"Status": status, "StatusMessage": message, "StartTime": now}]}
            if plan.serverless is None:
                shown.update(DesiredInstanceCount=plan.instance_count, CurrentInstanceCount=current)
                if plan.instance_type:
                    shown["InstanceType"] = plan.instance_type
            return shown

        pending: dict[str, Any] = {
            "EndpointConfigName": self._green_config(), "StartTime": self.started,
            "ProductionVariants": [summary(p, n) for p, n in variants if not p.shadow]}
        shadows = [summary(p, n) for p, n in variants if p.shadow]
        if shadows:
            pending["ShadowProductionVariants"] = shadows
        written = await asyncio.to_thread(self.controller._write, self.key,
                                          Patch({"PendingDeploymentSummary": pending}), "Updating")
        if not written:
            raise _Aborted("not Updating")

    def _log(self, line: str) -> None:
        try:
            logs = self.controller.launcher.logs.scoped(self.key.account, self.key.region)
            with logs.writer(deployment_group(self.key.name), LOG_STREAM) as writer:
                writer.write_line(f"modelyard: {line}")
        except OSError as exc:
            log.warning("endpoint %s: could not write the deployment log: %s", self.key.name, exc)


def desired_config(record: Record) -> str:
    """The endpoint config the record's desired state moves to."""
    desired = record.desired or {}
    return str(desired.get("config") or record.document.get("EndpointConfigName"))
