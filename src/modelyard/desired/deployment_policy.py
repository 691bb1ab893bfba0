"""A stored ``DeploymentConfig`` read as the steps an endpoint update takes.

    BlueGreenUpdatePolicy  -> the green fleet's traffic share after each step:
        ALL_AT_ONCE [1.0] | CANARY [c, 1.0] | LINEAR [s, 2s, ..., 1.0]
        each step bakes WaitIntervalInSeconds, then TerminationWaitInSeconds before blue stops
    RollingUpdatePolicy    -> instances replaced per batch (MaximumBatchSize), each batch baking
        WaitIntervalInSeconds; a rollback restores RollbackMaximumBatchSize instances at a time (all at once
        when absent)
    AutoRollbackConfiguration.Alarms -> the alarm names watched while traffic shifts and bakes
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

BLUE_GREEN, ROLLING = "BlueGreen", "Rolling"


@dataclass(frozen=True)
class CapacitySize:
    """SageMaker's ``CapacitySize``: a number of instances or a percentage of a fleet."""

    kind: str
    value: int

    @classmethod
    def from_document(cls, document: dict[str, Any] | None) -> CapacitySize | None:
        """Read ``{"Type", "Value"}`` (None when absent)."""
        return None if not document else cls(str(document["Type"]), int(document["Value"]))

    def fraction(self, fleet: int) -> float:
        """The share of a fleet of ``fleet`` instances this size stands for."""
        if self.kind == "CAPACITY_PERCENT":
            return self.value / 100.0
        return self.value / fleet if fleet > 0 else 1.0

    def instances(self, fleet: int) -> int:
        """How many of a fleet's instances this size is (at least one)."""
        if self.kind == "INSTANCE_COUNT":
            return max(1, self.value)
        return max(1, math.floor(self.value * fleet / 100.0))

    def describe(self) -> str:
        """``2 instances`` or ``25 %``, for messages."""
        return f"{self.value} %" if self.kind == "CAPACITY_PERCENT" else f"{self.value} instance(s)"


@dataclass(frozen=True)
class DeploymentPolicy:
    """How an endpoint moves to a new config."""

    kind: str
    traffic: str
    """ALL_AT_ONCE, CANARY or LINEAR (blue/green); ROLLING for a rolling update."""
    wait_seconds: int
    step: CapacitySize | None
    termination_wait_seconds: int
    max_seconds: int | None
    rollback_batch: CapacitySize | None
    alarms: tuple[str, ...]

    @classmethod
    def from_document(cls, document: dict[str, Any] | None) -> DeploymentPolicy:
        """Read a ``DeploymentConfig`` (None or empty: blue/green all at once, no baking, no alarms)."""
        document = document or {}
        alarms = tuple(str(a["AlarmName"]) for a in (document.get("AutoRollbackConfiguration") or {}).get("Alarms")
                       or [] if a.get("AlarmName"))
        rolling = document.get("RollingUpdatePolicy")
        if rolling:
            return cls(ROLLING, "ROLLING", int(rolling["WaitIntervalInSeconds"]),
                       CapacitySize.from_document(rolling["MaximumBatchSize"]), 0,
                       rolling.get("MaximumExecutionTimeoutInSeconds"),
                       CapacitySize.from_document(rolling.get("RollbackMaximumBatchSize")), alarms)
        blue_green = document.get("BlueGreenUpdatePolicy") or {}
        routing = blue_green.get("TrafficRoutingConfiguration") or {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
        step = routing.get("CanarySize") if routing["Type"] == "CANARY" else routing.get("LinearStepSize")
        return cls(BLUE_GREEN, str(routing["Type"]), int(routing.get("WaitIntervalInSeconds") or 0),
                   CapacitySize.from_document(step) if routing["Type"] != "ALL_AT_ONCE" else None,
                   int(blue_green.get("TerminationWaitInSeconds") or 0),
                   blue_green.get("MaximumExecutionTimeoutInSeconds"), None, alarms)

    @property
    def guarded(self) -> bool:
        """Whether the update needs steps, baking or alarms (else the plain new-fleet-then-switch does)."""
        return bool(self.kind == ROLLING or self.traffic != "ALL_AT_ONCE" or self.wait_seconds
                    or self.termination_wait_seconds or self.alarms)

    def shares(self, fleet: int) -> list[float]:
        """The green fleet's traffic share after each blue/green step (the last is 1.0)."""
        if self.traffic == "ALL_AT_ONCE" or self.step is None:
            return [1.0]
        first = min(1.0, self.step.fraction(fleet))
        if self.traffic == "CANARY":
            return [first, 1.0] if first < 1.0 else [1.0]
        steps = [min(1.0, first * n) for n in range(1, math.ceil(1.0 / first - 1e-9) + 1)]
        if steps[-1] < 1.0:
            steps.append(1.0)
        return [round(s, 6) for s in steps]

    def batches(self, fleet: int) -> list[int]:
        """A rolling update's batch sizes over a fleet of ``fleet`` instances."""
        return _batches(self.step.instances(fleet) if self.step else fleet, fleet)

    def rollback_batches(self, count: int) -> list[int]:
        """How a rolling update's rollback restores ``count`` old instances."""
        return _batches(self.rollback_batch.instances(count) if self.rollback_batch else count, count)


def _batches(size: int, total: int) -> list[int]:
    size = max(1, min(size, total)) if total > 0 else 1
    full, rest = divmod(total, size)
    return [size] * full + ([rest] if rest else [])
