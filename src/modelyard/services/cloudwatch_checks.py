"""CloudWatch's input rules that the service model does not express: periods, time ranges, datapoint
limits, statistics and metric values, each refused with CloudWatch's own error code."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from modelyard.metrics.statistics import Statistic, UnknownStatistic, parse_statistic
from modelyard.wire.errors import InvalidParameterCombination, InvalidParameterValue, MissingParameter

MAX_DATAPOINTS = 1440
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 30)
LARGEST_VALUE = 1.174271e108
SMALLEST_VALUE = 8.515920e-109


def check_period(period: int, field: str = "Period") -> None:
    """A period CloudWatch accepts and modelyard can answer: a multiple of 60 seconds."""
    if period in HIGH_RESOLUTION_PERIODS:
        raise InvalidParameterValue(
            f"The parameter {field} of {period} seconds asks for high-resolution data; modelyard keeps one-minute "
            "aggregates only, so the period must be a multiple of 60 (high-resolution periods are not supported yet)")
    if period <= 0 or period % 60:
        raise InvalidParameterValue(f"The parameter {field} must be a multiple of 60 (or 1, 5, 10 or 30 for "
                                    f"high-resolution metrics); got {period}.")


def check_range(start: float, end: float) -> None:
    """StartTime strictly before EndTime."""
    if start >= end:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")


def check_datapoints(start: float, end: float, period: int, statistics: int = 1) -> None:
    """At most 1,440 datapoints in one GetMetricStatistics answer."""
    wanted = math.ceil((end - start) / period) * max(statistics, 1)
    if wanted > MAX_DATAPOINTS:
        raise InvalidParameterCombination(
            f"You have requested up to {wanted:,} datapoints, which exceeds the limit of {MAX_DATAPOINTS:,}. "
            "You may reduce the datapoints requested by increasing Period, or decreasing the time range.")


def statistics_of(request: dict[str, Any]) -> list[Statistic]:
    """GetMetricStatistics' Statistics or ExtendedStatistics (one of the two, not both)."""
    basic, extended = request.get("Statistics") or [], request.get("ExtendedStatistics") or []
    if not basic and not extended:
        raise MissingParameter("Must specify either Statistics or ExtendedStatistics.")
    if basic and extended:
        raise InvalidParameterCombination("The parameters Statistics and ExtendedStatistics are mutually exclusive.")
    try:
        return [parse_statistic(name, extended=bool(extended)) for name in basic or extended]
    except UnknownStatistic as exc:
        raise InvalidParameterValue(str(exc)) from None


def statistic(name: str, field: str) -> Statistic:
    """One statistic name (basic or percentile)."""
    try:
        return parse_statistic(name)
    except UnknownStatistic as exc:
        raise InvalidParameterValue(f"{field}: {exc}") from None


def check_value(value: float, field: str) -> None:
    """A finite value CloudWatch can store."""
    magnitude = abs(value)
    if not math.isfinite(value) or magnitude > LARGEST_VALUE or (0 < magnitude < SMALLEST_VALUE):
        raise InvalidParameterValue(
            f"The value {value!r} for parameter {field} is invalid: values must be finite, with a magnitude "
            f"between {SMALLEST_VALUE:g} and {LARGEST_VALUE:g} (or 0).")


def check_values(values: Sequence[float], field: str) -> None:
    """Every value finite and in range."""
    for index, value in enumerate(values, 1):
        check_value(value, f"{field}.member.{index}")
