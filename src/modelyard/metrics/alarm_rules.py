"""How a metric alarm's state follows from its most recent periods (CloudWatch's rules).

    values (newest last, None = no data) -> breaching per period (TreatMissingData decides for None)
      -> ALARM when at least DatapointsToAlarm of the last EvaluationPeriods breach
      -> OK otherwise; with every period missing: INSUFFICIENT_DATA (missing), the state kept
         (ignore), ALARM (breaching) or OK (notBreaching)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ALARM, OK, INSUFFICIENT_DATA = "ALARM", "OK", "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT_DATA)
OPERATORS = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
MISSING_DATA = ("missing", "notBreaching", "breaching", "ignore")


def breaches(operator: str, value: float, threshold: float) -> bool:
    """Whether ``value`` is on the alarming side of ``threshold``."""
    symbol = OPERATORS[operator]
    if symbol == ">=":
        return value >= threshold
    if symbol == ">":
        return value > threshold
    if symbol == "<":
        return value < threshold
    return value <= threshold


@dataclass(frozen=True)
class Verdict:
    """The state the periods call for and why (None: keep the current state)."""

    state: str | None
    reason: str
    breaching: int
    recent: list[float]


def evaluate(values: Sequence[float | None], *, operator: str, threshold: float, datapoints_to_alarm: int,
             treat_missing: str, period: int) -> Verdict:
    """The verdict over ``values``, the alarm's last EvaluationPeriods periods (oldest first)."""
    present = [value for value in values if value is not None]
    missing = len(values) - len(present)
    symbol = OPERATORS[operator]
    if not present:
        if treat_missing == "ignore":
            return Verdict(None, "no datapoints; the state is kept (TreatMissingData=ignore)", 0, [])
        if treat_missing == "breaching":
            state = ALARM if len(values) >= datapoints_to_alarm else OK
            return Verdict(state, f"Threshold Crossed: no datapoints were received for {len(values)} periods "
                                  "and missing data is treated as breaching.", len(values), [])
        if treat_missing == "notBreaching":
            return Verdict(OK, f"Threshold Crossed: no datapoints were received for {len(values)} periods and "
                               "missing data is treated as not breaching.", 0, [])
        return Verdict(INSUFFICIENT_DATA, f"Insufficient Data: {len(values)} datapoints were unknown.", 0, [])
    breaching = sum(1 for value in present if breaches(operator, value, threshold))
    if treat_missing == "breaching":
        breaching += missing
    shown = ", ".join(f"{value:g}" for value in reversed(present))
    if breaching >= datapoints_to_alarm:
        return Verdict(ALARM, f"Threshold Crossed: {breaching} out of the last {len(values)} datapoints "
                              f"[{shown}] were {symbol} the threshold ({threshold:g}) (period {period} s).",
                       breaching, present)
    return Verdict(OK, f"Threshold Crossed: {len(values) - breaching} out of the last {len(values)} datapoints "
                       f"[{shown}] were not {symbol} the threshold ({threshold:g}) (period {period} s).",
                   breaching, present)
