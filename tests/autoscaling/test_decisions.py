"""The capacity arithmetic of scaling policies (pure functions, no server)."""

from __future__ import annotations

import pytest

from modelyard.controllers.autoscaling.decisions import (
    aggregate,
    step_capacity,
    step_for,
    tracking_capacity,
    within,
)


@pytest.mark.parametrize(("capacity", "values", "target", "wanted"), [
    (1, [250.0], 100.0, 3),
    (3, [10.0, 20.0], 100.0, 1),
    (2, [100.0], 100.0, 2),
    (0, [0.0], 100.0, 0),
    (0, [5.0], 100.0, 1),
    (4, [], 100.0, None),
])
def test_target_tracking_scales_by_the_ratio_of_the_peak_to_the_target(
        capacity: int, values: list[float], target: float, wanted: int | None) -> None:
    assert tracking_capacity(capacity, values, target) == wanted


STEPS = [{"MetricIntervalUpperBound": -10.0, "ScalingAdjustment": -2},
         {"MetricIntervalLowerBound": -10.0, "MetricIntervalUpperBound": 0.0, "ScalingAdjustment": -1},
         {"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 10.0, "ScalingAdjustment": 1},
         {"MetricIntervalLowerBound": 10.0, "ScalingAdjustment": 3}]


@pytest.mark.parametrize(("breach", "adjustment"), [(-50.0, -2), (-10.0, -2), (-5.0, -1), (0.0, 1), (9.9, 1),
                                                    (10.0, 3), (1e6, 3)])
def test_the_step_whose_interval_holds_the_breach(breach: float, adjustment: int) -> None:
    step = step_for(breach, STEPS)
    assert step is not None and step["ScalingAdjustment"] == adjustment


@pytest.mark.parametrize(("kind", "adjustment", "magnitude", "capacity", "wanted"), [
    ("ChangeInCapacity", 2, None, 3, 5),
    ("ExactCapacity", 4, None, 1, 4),
    ("PercentChangeInCapacity", 50, None, 4, 6),
    ("PercentChangeInCapacity", 10, None, 4, 5),
    ("PercentChangeInCapacity", -25, None, 8, 6),
    ("PercentChangeInCapacity", 10, 3, 4, 7),
])
def test_step_adjustments(kind: str, adjustment: int, magnitude: int | None, capacity: int, wanted: int) -> None:
    config = {"AdjustmentType": kind, **({"MinAdjustmentMagnitude": magnitude} if magnitude else {})}
    assert step_capacity(capacity, {"ScalingAdjustment": adjustment}, config) == wanted


def test_bounds_and_aggregates() -> None:
    assert (within(0, 1, 3), within(5, 1, 3), within(2, 1, 3)) == (1, 3, 2)
    assert (aggregate([1.0, 3.0], "Average"), aggregate([1.0, 3.0], "Minimum"), aggregate([1.0, 3.0], "Maximum"),
            aggregate([], "Average")) == (2.0, 1.0, 3.0, None)
