"""The pure parts: histogram percentiles within their error bound, statistic names, alarm rules."""

from __future__ import annotations

import math
import random

import pytest

from modelyard.metrics.aggregate import Aggregate
from modelyard.metrics.alarm_rules import ALARM, INSUFFICIENT_DATA, OK, evaluate
from modelyard.metrics.histogram import RELATIVE_ERROR, Histogram
from modelyard.metrics.statistics import UnknownStatistic, parse_statistic


@pytest.mark.parametrize("spread", [0.1, 1.0, 3.0])
def test_percentiles_are_within_the_relative_error_of_a_true_sample(spread: float) -> None:
    generator = random.Random(3)
    values = sorted(generator.lognormvariate(5, spread) for _ in range(5000))
    aggregate = Aggregate()
    aggregate.add_values(values)
    for percent in (1, 50, 90, 99, 99.9):
        exact = values[max(math.ceil(percent / 100 * len(values) - 1e-9) - 1, 0)]
        assert aggregate.percentile(percent) == pytest.approx(exact, rel=RELATIVE_ERROR + 1e-9)
    assert aggregate.percentile(100) == values[-1]


def test_negative_zero_and_merged_histograms() -> None:
    first, second = Histogram(), Histogram()
    for value in (-10.0, -1.0, 0.0):
        first.add(value)
    second.add(5.0, 2)
    first.merge(Histogram.decode(second.encode()))
    assert first.total == 5
    assert first.percentile(20) == pytest.approx(-10, rel=0.01)
    assert first.percentile(60) == 0.0
    assert first.percentile(100) == pytest.approx(5, rel=0.01)


def test_a_statistic_set_with_a_spread_has_no_percentiles() -> None:
    aggregate = Aggregate()
    aggregate.add_statistic_set(4, 10.0, 1.0, 4.0)
    assert aggregate.percentile(50) is None and aggregate.total == 10.0
    equal = Aggregate()
    equal.add_statistic_set(3, 6.0, 2.0, 2.0)
    assert equal.percentile(50) == 2.0


@pytest.mark.parametrize("name", ["Median", "p101", "tm99", "P99", ""])
def test_unknown_statistics(name: str) -> None:
    with pytest.raises(UnknownStatistic):
        parse_statistic(name)


def test_alarm_rules() -> None:
    common = {"operator": "GreaterThanThreshold", "threshold": 5.0, "period": 60}
    assert evaluate([6.0, 1.0, 7.0], datapoints_to_alarm=2, treat_missing="missing", **common).state == ALARM
    assert evaluate([6.0, 1.0, 2.0], datapoints_to_alarm=2, treat_missing="missing", **common).state == OK
    assert evaluate([None, None], datapoints_to_alarm=1, treat_missing="missing", **common).state == INSUFFICIENT_DATA
    assert evaluate([None, None], datapoints_to_alarm=1, treat_missing="ignore", **common).state is None
    assert evaluate([None, 6.0], datapoints_to_alarm=2, treat_missing="breaching", **common).state == ALARM
    assert evaluate([None, 6.0], datapoints_to_alarm=2, treat_missing="notBreaching", **common).state == OK
    assert evaluate([5.0], datapoints_to_alarm=1, treat_missing="missing",
                    **{**common, "operator": "GreaterThanOrEqualToThreshold"}).state == ALARM
    assert evaluate([5.0], datapoints_to_alarm=1, treat_missing="missing",
                    **{**common, "operator": "LessThanThreshold"}).state == OK
