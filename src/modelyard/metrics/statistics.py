"""CloudWatch statistics over one-minute aggregates: which names are valid, and their values per period.

    SampleCount, Average, Sum, Minimum, Maximum, and percentiles pNN / pNN.NN (from the histogram).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from modelyard.metrics.aggregate import Aggregate

BASIC = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d{1,2})?|100(?:\.0{1,2})?)")
OTHER_EXTENDED = re.compile(r"(tm|wm|tc|ts|pr|iqm|TM|WM|TC|TS|PR|IQM)(\(.*\)|\d.*)?")


class UnknownStatistic(ValueError):
    """A statistic name that is not one of CloudWatch's, or one modelyard does not compute."""


@dataclass(frozen=True)
class Statistic:
    """A parsed statistic: a basic one by name, or a percentile."""

    name: str
    percent: float | None = None

    def of(self, aggregate: Aggregate) -> float | None:
        """The statistic's value over ``aggregate``; None when it cannot be computed."""
        if self.percent is not None:
            return aggregate.percentile(self.percent) if aggregate.count > 0 else None
        return self.of_totals(aggregate.count, aggregate.total, aggregate.minimum, aggregate.maximum)

    def of_totals(self, count: float, total: float, minimum: float, maximum: float) -> float | None:
        """A basic statistic's value from summed samples; None without samples (or for a percentile)."""
        if count <= 0 or self.percent is not None:
            return None
        if self.name == "SampleCount":
            return count
        if self.name == "Sum":
            return total
        if self.name == "Average":
            return total / count
        if self.name == "Minimum":
            return minimum
        return maximum


def parse_statistic(name: str, *, extended: bool | None = None) -> Statistic:
    """A statistic by name (``extended``: True only percentiles, False only basic, None either)."""
    if name in BASIC and extended is not True:
        return Statistic(name)
    if extended is not False:
        found = PERCENTILE.fullmatch(name)
        if found is not None:
            return Statistic(name, float(found.group(1)))
        if OTHER_EXTENDED.fullmatch(name):
            raise UnknownStatistic(
                f"The statistic {name} is not supported by modelyard yet: it computes SampleCount, Average, "
                "Sum, Minimum, Maximum and percentiles (p0 to p100, e.g. p99 or p99.9)")
    basic = "one of SampleCount, Average, Sum, Minimum, Maximum"
    expected = ("a percentile such as p99 or p99.9" if extended else
                basic if extended is False else f"{basic} or a percentile such as p99")
    raise UnknownStatistic(f"The statistic {name!r} is not valid: expected {expected}")


def per_period(rows: Iterable[tuple[int, Aggregate]], start: int, period: int) -> dict[int, Aggregate]:
    """Minute aggregates folded into periods aligned on ``start`` (keys: each period's start)."""
    periods: dict[int, Aggregate] = {}
    for minute, aggregate in rows:
        slot = start + (minute - start) // period * period
        mine = periods.get(slot)
        if mine is None:
            periods[slot] = aggregate
        else:
            mine.merge(aggregate)
    return periods
