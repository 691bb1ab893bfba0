"""Checks of a ``DeploymentConfig`` (CreateEndpoint, UpdateEndpoint) against the configs it moves between.

SageMaker's rules: one update policy at a time; CANARY needs a CanarySize of at most half the new fleet,
LINEAR a LinearStepSize of 10-50 % of it, a rolling batch 5-50 % of the variant's instances; rolling
updates are for one instance-based variant; blue/green and rolling keep the variant names; the rollback
alarms exist in the caller's account and region.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from modelyard.context import RequestContext
from modelyard.desired.deployment_policy import ROLLING, CapacitySize, DeploymentPolicy
from modelyard.store.alarms import list_alarms
from modelyard.wire.errors import ValidationException

_STEP_MEMBER = {"CANARY": "CanarySize", "LINEAR": "LinearStepSize"}


def check_alarms_exist(conn: Connection, ctx: RequestContext, document: dict[str, Any]) -> None:
    """Every AutoRollbackConfiguration alarm must be an alarm of the caller's account and region."""
    alarms = (document.get("AutoRollbackConfiguration") or {}).get("Alarms") or []
    if any(not a.get("AlarmName") for a in alarms):
        raise ValidationException("Every alarm of AutoRollbackConfiguration.Alarms needs an AlarmName")
    names = [a["AlarmName"] for a in alarms]
    if not names:
        return
    found = {row.name for row in list_alarms(conn, ctx.account, ctx.region, names=names)}
    missing = [name for name in names if name not in found]
    if missing:
        raise ValidationException(
            f"The alarm(s) {missing} specified in AutoRollbackConfiguration do not exist in account "
            f"{ctx.account} region {ctx.region}; create them with CloudWatch PutMetricAlarm first")


def check_deployment_config(conn: Connection, ctx: RequestContext, document: dict[str, Any],
                            new_config: dict[str, Any], old_config: dict[str, Any] | None) -> None:
    """Refuse a DeploymentConfig SageMaker refuses for an update from ``old_config`` to ``new_config``
    (config documents; ``old_config`` None at CreateEndpoint)."""
    blue_green, rolling = document.get("BlueGreenUpdatePolicy"), document.get("RollingUpdatePolicy")
    if blue_green and rolling:
        raise ValidationException("DeploymentConfig takes either BlueGreenUpdatePolicy or RollingUpdatePolicy, "
                                  "not both")
    if blue_green:
        _check_routing(blue_green["TrafficRoutingConfiguration"])
    check_alarms_exist(conn, ctx, document)
    policy = DeploymentPolicy.from_document(document)
    variants = new_config.get("ProductionVariants") or []
    serverless = any("ServerlessConfig" in v for v in variants)
    fleet = sum(int(v.get("InitialInstanceCount") or 0) for v in variants)
    if any(str(v.get("InstanceType") or "").startswith("ml.inf1.") for v in variants):
        raise ValidationException("Deployment guardrails are not available for endpoints on Inf1 instances; "
                                  "remove DeploymentConfig (the update then switches all at once)")
    if policy.kind == ROLLING:
        _check_rolling(policy, variants, serverless)
    elif policy.step is not None:
        _check_step(policy, fleet, serverless)
    if old_config is not None and (blue_green or rolling):
        old_names = sorted(v["VariantName"] for v in old_config.get("ProductionVariants") or [])
        new_names = sorted(v["VariantName"] for v in variants)
        if old_names != new_names:
            raise ValidationException(
                f"A blue/green or rolling deployment keeps the endpoint's variant names: the endpoint has "
                f"{old_names} and the new endpoint configuration has {new_names}; use the same names, or "
                "update without DeploymentConfig")


def _check_routing(routing: dict[str, Any]) -> None:
    kind = routing["Type"]
    for other_kind, member in _STEP_MEMBER.items():
        if member in routing and kind != other_kind:
            raise ValidationException(f"TrafficRoutingConfiguration.{member} is only for Type {other_kind}; "
                                      f"remove it for Type {kind}")
    if kind in _STEP_MEMBER and _STEP_MEMBER[kind] not in routing:
        raise ValidationException(f"TrafficRoutingConfiguration of Type {kind} needs {_STEP_MEMBER[kind]}")


def _check_step(policy: DeploymentPolicy, fleet: int, serverless: bool) -> None:
    step = policy.step
    assert step is not None
    member = _STEP_MEMBER[policy.traffic]
    if serverless and step.kind == "INSTANCE_COUNT":
        raise ValidationException(f"{member} of Type INSTANCE_COUNT needs instance-based variants; a serverless "
                                  "endpoint has no instances to count: use CAPACITY_PERCENT")
    share = step.fraction(fleet)
    low = 0.0 if policy.traffic == "CANARY" else 0.1
    if not low - 1e-9 <= share <= 0.5 + 1e-9:
        bounds = "at most 50 %" if policy.traffic == "CANARY" else "between 10 % and 50 %"
        raise ValidationException(
            f"{member} {step.describe()} is {share * 100:g} % of the new fleet's {fleet} instance(s); "
            f"{policy.traffic} traffic shifting needs a {member} of {bounds} of the new fleet's capacity")


def _check_rolling(policy: DeploymentPolicy, variants: list[dict[str, Any]], serverless: bool) -> None:
    if serverless:
        raise ValidationException("RollingUpdatePolicy is not available for serverless endpoints; use "
                                  "BlueGreenUpdatePolicy")
    if len(variants) != 1:
        raise ValidationException(f"RollingUpdatePolicy is for endpoints with one production variant (the new "
                                  f"configuration has {len(variants)}); use BlueGreenUpdatePolicy")
    fleet = int(variants[0].get("InitialInstanceCount") or 0)
    step = policy.step
    assert step is not None
    share = step.fraction(fleet)
    if not 0.05 - 1e-9 <= share <= 0.5 + 1e-9:
        raise ValidationException(
            f"RollingUpdatePolicy.MaximumBatchSize {step.describe()} is {share * 100:g} % of variant "
            f"{variants[0]['VariantName']}'s {fleet} instance(s); it must be between 5 % and 50 % of them")
    _check_rollback(policy.rollback_batch)


def _check_rollback(size: CapacitySize | None) -> None:
    if size is not None and size.kind == "CAPACITY_PERCENT" and size.value > 100:
        raise ValidationException(f"RollingUpdatePolicy.RollbackMaximumBatchSize {size.describe()} exceeds 100 %")
