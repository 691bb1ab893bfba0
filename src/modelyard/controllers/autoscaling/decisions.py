"""How many instances a scaling policy asks for, from its alarm's recent values (pure functions).

    target tracking, scale out: ceil(capacity x peak / target)   (peak: the highest recent value)
    target tracking, scale in:  the same over one more period than the alarm looks at, so the
                                current, partial minute never decides alone
    step scaling: the step whose bounds hold (aggregate - threshold) -> ChangeInCapacity,
                  PercentChangeInCapacity (with MinAdjustmentMagnitude) or ExactCapacity
    every result is kept within MinCapacity..MaxCapacity
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def within(capacity: int, minimum: int, maximum: int) -> int:
    """``capacity`` kept within the target's bounds."""
    return max(minimum, min(maximum, capacity))


def tracking_capacity(capacity: int, values: Sequence[float], target: float) -> int | None:
    """The capacity that brings the metric (``values``' peak) to ``target``; None without data."""
    if not values:
        return None
    peak = max(values)
    if capacity == 0:
        return max(1, math.ceil(peak / target)) if peak > 0 else 0
    return max(0, math.ceil(round(capacity * peak / target, 9)))


def aggregate(values: Sequence[float], kind: str) -> float | None:
    """The step scaling policy's MetricAggregationType over the alarm's values."""
    if not values:
        return None
    if kind == "Minimum":
        return min(values)
    if kind == "Maximum":
        return max(values)
    return sum(values) / len(values)


def step_for(breach: float, steps: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The step whose interval holds ``breach`` (metric minus threshold). Above the threshold a lower bound
    is inclusive and an upper bound exclusive; below it the other way round (CloudWatch's rule); at the
    threshold itself a step starting there wins over one ending there."""
    for step in steps:
        lower = step.get("MetricIntervalLowerBound", -math.inf)
        upper = step.get("MetricIntervalUpperBound", math.inf)
        if lower <= breach < upper and lower >= 0 or lower < breach < upper:
            return step
    for step in steps:
        lower = step.get("MetricIntervalLowerBound", -math.inf)
        upper = step.get("MetricIntervalUpperBound", math.inf)
        if lower < breach <= upper and upper <= 0:
            return step
    return None


def step_capacity(capacity: int, step: dict[str, Any], config: dict[str, Any]) -> int:
    """The capacity a step adjustment asks for."""
    adjustment = int(step["ScalingAdjustment"])
    kind = config["AdjustmentType"]
    if kind == "ExactCapacity":
        return adjustment
    if kind == "ChangeInCapacity":
        return capacity + adjustment
    change = capacity * adjustment / 100
    whole = math.trunc(change) if abs(change) >= 1 else (1 if change > 0 else -1 if change < 0 else 0)
    magnitude = config.get("MinAdjustmentMagnitude")
    if magnitude and 0 < abs(whole) < magnitude:
        whole = magnitude if whole > 0 else -magnitude
    return capacity + whole
