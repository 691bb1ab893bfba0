"""The autoscaler: after each round of the alarm evaluator it follows its scaling activities and runs
the policies that alarms name as actions.

    each target:  its endpoint gone -> target, policies and their alarms deleted
                  activity in progress -> Successful once the endpoint is InService at the count
                                          (Failed when the endpoint fell back or failed)
                  count outside MinCapacity..MaxCapacity -> scaled within
    each alarm (actions enabled) in a state whose actions name scaling policies:
        policy -> ``decisions`` -> a new count, unless suspended, in cooldown or already there
               -> the endpoint's desired count (``capacity.set_count``) + an InProgress activity

Cooldowns count from an activity's end. A scale-out waits ScaleOutCooldown (step scaling: Cooldown)
after the last scale-out; a scale-in waits ScaleInCooldown (Cooldown) after the last activity of
either direction. No second activity starts on a target while one is in progress.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

from modelyard.controllers.autoscaling import capacity
from modelyard.controllers.autoscaling.decisions import (
    aggregate,
    step_capacity,
    step_for,
    tracking_capacity,
    within,
)
from modelyard.metrics.alarm_evaluator import AlarmEvaluator
from modelyard.ports import Reconciler
from modelyard.store import alarms as stored_alarms
from modelyard.store import autoscaling as stored
from modelyard.store.autoscaling import PolicyRow, TargetKey, TargetRow
from modelyard.store.database import Database
from modelyard.store.resources import get_record

log = logging.getLogger("modelyard.autoscaling")
ACTIONS_BY_STATE = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}
OUT, IN = "out", "in"


@dataclass(frozen=True)
class Decision:
    """A new capacity for a target and why."""

    capacity: int
    cause: str
    cooldown: float


def _variant_of(key: TargetKey) -> tuple[str, str]:
    _, endpoint, _, variant = key.resource_id.split("/", 3)
    return endpoint, variant


class Autoscaler:
    """Runs scaling policies on endpoint variants; ``run_once`` is one round (blocking, in the alarm
    evaluator's thread)."""

    def __init__(self, db: Database, endpoints: Reconciler, alarms: AlarmEvaluator) -> None:
        """``endpoints`` is told when a variant's desired count changed; ``alarms`` reads alarms' values."""
        self.db = db
        self.endpoints = endpoints
        self.alarms = alarms

    def run_once(self, now: float | None = None) -> int:
        """Follow every target and run every policy an alarm calls for; how many activities started."""
        now = time.time() if now is None else now
        with self.db.session() as conn:
            targets = stored.all_targets(conn)
            alarms = stored_alarms.all_alarms(conn)
        started: set[tuple[str, str, str]] = set()
        for target in targets:
            try:
                self._follow(target, now, started)
            except Exception:
                log.exception("following scalable target %s failed", target.key.resource_id)
        for alarm in alarms:
            if not alarm.document.get("ActionsEnabled", True):
                continue
            for arn in alarm.document.get(ACTIONS_BY_STATE.get(alarm.state, ""), []):
                try:
                    self._run_policy(arn, alarm, now, started)
                except Exception:
                    log.exception("scaling policy %s of alarm %s failed", arn, alarm.name)
        for account, region, endpoint in started:
            self.endpoints.notify(account, region, endpoint)
        return len(started)

    # targets

    def _follow(self, target: TargetRow, now: float, started: set[tuple[str, str, str]]) -> None:
        key = target.key
        endpoint_name, variant = _variant_of(key)
        with self.db.session(write=True) as conn:
            current = stored.get_target(conn, key)
            endpoint = get_record(conn, key.account, key.region, "endpoint", endpoint_name)
            if current is None:
                return
            activity = current.scaling.get("activity")
            if endpoint is None:
                log.info("endpoint %s is gone: its scalable target %s is deregistered", endpoint_name, key.resource_id)
                if activity is not None:
                    self._check_progress(conn, current, "deleted", {}, variant, now)
                stored.delete_tracking_alarms(conn, stored.delete_target(conn, key))
                return
            if activity is not None:
                self._check_progress(conn, current, endpoint.status, endpoint.document, variant, now)
                return
            if endpoint.status != "InService":
                return
            count = capacity.desired_count(conn, endpoint, variant)
            if count is None:
                return
            low, high = current.document["MinCapacity"], current.document["MaxCapacity"]
            if low <= count <= high:
                return
            wanted = within(count, low, high)
            bound = "maximum" if count > high else "minimum"
            if self._start(conn, current, endpoint, variant, count, wanted,
                           f"{bound} capacity was set to {wanted}", now):
                started.add((key.account, key.region, endpoint_name))

    def _check_progress(self, conn: Any, target: TargetRow, status: str | None, document: dict[str, Any],
                        variant: str, now: float) -> None:
        activity = target.scaling["activity"]
        if status == "Updating":
            return
        shown: dict[str, Any] = next(
            (v for v in document.get("ProductionVariants", []) if v["VariantName"] == variant), {})
        reached = status == "InService" and shown.get("CurrentInstanceCount") == activity["capacity"]
        scaling = {k: v for k, v in target.scaling.items() if k != "activity"}
        if reached:
            scaling[activity["direction"]] = now
        stored.set_scaling(conn, target.key, scaling)
        rows = [a for a in stored.list_activities(conn, target.key.account, target.key.region, target.key.namespace,
                                                   resource_id=target.key.resource_id)
                if a["ActivityId"] == activity["id"]]
        if not rows:
            return
        done = {**rows[0], "EndTime": now}
        if reached:
            done.update(StatusCode="Successful", StatusMessage=(
                f"Successfully set desired instance count to {activity['capacity']}. "
                "Change successfully fulfilled by sagemaker."))
        else:
            reason = document.get("FailureReason") or f"the endpoint is {status}"
            done.update(StatusCode="Failed", StatusMessage=(
                f"Failed to set desired instance count to {activity['capacity']}. Reason: {reason}"))
        stored.update_activity(conn, done)

    def _start(self, conn: Any, target: TargetRow, endpoint: Any, variant: str, before: int, after: int,
               cause: str, now: float) -> bool:
        """Ask for ``after`` instances and record the activity; whether the endpoint took the change."""
        if not capacity.set_count(conn, endpoint, variant, after, now):
            return False
        activity_id = str(uuid.uuid4())
        stored.add_activity(conn, target.key, {
            "ActivityId": activity_id, "ServiceNamespace": target.key.namespace,
            "ResourceId": target.key.resource_id, "ScalableDimension": target.key.dimension,
            "Description": f"Setting desired instance count to {after}.", "Cause": cause,
            "StartTime": now, "StatusCode": "InProgress",
            "StatusMessage": f"Changing desired instance count from {before} to {after}."})
        stored.set_scaling(conn, target.key, {**target.scaling, "activity": {
            "id": activity_id, "capacity": after, "direction": OUT if after > before else IN}})
        log.info("autoscaling %s: %d -> %d instances (%s)", target.key.resource_id, before, after, cause)
        return True

    # policies

    def _run_policy(self, arn: str, alarm: stored_alarms.AlarmRow, now: float,
                    started: set[tuple[str, str, str]]) -> None:
        with self.db.session() as conn:
            policy = stored.policy_by_arn(conn, arn)
        if policy is None or (policy.key.account, policy.key.region) != (alarm.account, alarm.region):
            return
        scale_out = alarm.document["ComparisonOperator"].startswith("Greater")
        periods = alarm.document["EvaluationPeriods"] + (0 if scale_out else 1)
        values = [v for v in self.alarms.recent_values(alarm, now, periods) if v is not None]
        endpoint_name, variant = _variant_of(policy.key)
        with self.db.session(write=True) as conn:
            target = stored.get_target(conn, policy.key)
            endpoint = get_record(conn, policy.key.account, policy.key.region, "endpoint", endpoint_name)
            if target is None or endpoint is None or endpoint.status != "InService" or "activity" in target.scaling:
                return
            count = capacity.desired_count(conn, endpoint, variant)
            if count is None:
                return
            decision = self._decide(policy, alarm, values, count, scale_out)
            if decision is None:
                return
            wanted = within(decision.capacity, target.document["MinCapacity"], target.document["MaxCapacity"])
            if wanted == count or not self._allowed(target, wanted > count, decision.cooldown, now):
                return
            if self._start(conn, target, endpoint, variant, count, wanted, decision.cause, now):
                started.add((policy.key.account, policy.key.region, endpoint_name))

    @staticmethod
    def _decide(policy: PolicyRow, alarm: stored_alarms.AlarmRow, values: list[float], count: int,
                scale_out: bool) -> Decision | None:
        cause = f"monitor alarm {alarm.name} in state {alarm.state} triggered policy {policy.name}"
        document = policy.document
        if document["PolicyType"] == "TargetTrackingScaling":
            config = document["TargetTrackingScalingPolicyConfiguration"]
            wanted = tracking_capacity(count, values, config["TargetValue"])
            if wanted is None or (wanted > count) != scale_out or (not scale_out and config["DisableScaleIn"]):
                return None
            return Decision(wanted, cause, config["ScaleOutCooldown" if scale_out else "ScaleInCooldown"])
        config = document["StepScalingPolicyConfiguration"]
        value = aggregate(values, config["MetricAggregationType"])
        if value is None and alarm.state == "ALARM":
            return None
        breach = 0.0 if value is None else value - alarm.document["Threshold"]
        step = step_for(breach, config["StepAdjustments"])
        if step is None:
            return None
        return Decision(step_capacity(count, step, config), cause, config["Cooldown"])

    @staticmethod
    def _allowed(target: TargetRow, scale_out: bool, cooldown: float, now: float) -> bool:
        suspended = target.document.get("SuspendedState") or {}
        if suspended.get("DynamicScalingOutSuspended" if scale_out else "DynamicScalingInSuspended"):
            return False
        last_out = target.scaling.get(OUT, -math.inf)
        last = last_out if scale_out else max(last_out, target.scaling.get(IN, -math.inf))
        return bool(now - last >= cooldown)
