"""A tuning job's search space: ``ParameterRanges`` parsed and checked by SageMaker's rules.

    IntegerParameterRanges     [{"Name", "MinValue", "MaxValue", "ScalingType"}]  whole numbers, Min <= Max
    ContinuousParameterRanges  [{"Name", "MinValue", "MaxValue", "ScalingType"}]  numbers, Min <= Max
    CategoricalParameterRanges [{"Name", "Values": [...]}]                        1..30 distinct values

    ScalingType  Auto | Linear       any range
                 Logarithmic         integer or continuous, MinValue > 0
                 ReverseLogarithmic  continuous only, 0 <= MinValue and MaxValue < 1

Values travel as strings (hyperparameters are strings on the wire); ``format_value`` writes a sampled
value the way a training script reads it back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MAX_CATEGORICAL_VALUES = 30
MAX_PARAMETERS = 30
SCALING_TYPES = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")


class TuningConfigError(ValueError):
    """A tuning configuration SageMaker would refuse (the message says which member and why)."""


@dataclass(frozen=True)
class NumericRange:
    """An integer or continuous range."""

    name: str
    low: float
    high: float
    scaling: str
    integer: bool

    def clip(self, value: float) -> float:
        """``value`` inside the range (rounded for an integer range)."""
        value = min(max(value, self.low), self.high)
        return float(round(value)) if self.integer else value

    def from_unit(self, unit: float) -> float:
        """The value at ``unit`` in [0, 1] of the range, by its scaling."""
        if self.scaling == "Logarithmic":
            value = math.exp(math.log(self.low) + unit * (math.log(self.high) - math.log(self.low)))
        elif self.scaling == "ReverseLogarithmic":
            value = 1.0 - math.exp(math.log(1.0 - self.high) + (1.0 - unit)
                                   * (math.log(1.0 - self.low) - math.log(1.0 - self.high)))
        else:
            value = self.low + unit * (self.high - self.low)
        return self.clip(value)


@dataclass(frozen=True)
class CategoricalRange:
    """A categorical range: its values as given."""

    name: str
    values: tuple[str, ...]


Range = NumericRange | CategoricalRange


@dataclass(frozen=True)
class SearchSpace:
    """Every tuned hyperparameter, in the order the request gave them."""

    ranges: tuple[Range, ...]

    @property
    def names(self) -> list[str]:
        """The tuned hyperparameter names."""
        return [r.name for r in self.ranges]

    @property
    def categorical_only(self) -> bool:
        """Whether every range is categorical (what Grid search needs)."""
        return all(isinstance(r, CategoricalRange) for r in self.ranges)

    def grid_size(self) -> int:
        """How many combinations a grid over the (categorical) ranges has."""
        size = 1
        for item in self.ranges:
            size *= len(item.values) if isinstance(item, CategoricalRange) else 1
        return size

    def parse(self, hyperparameters: dict[str, str]) -> dict[str, Any] | None:
        """The tuned values of a training job's hyperparameters as numbers/strings; None when one is missing
        or outside the space (a parent job of another search space)."""
        values: dict[str, Any] = {}
        for item in self.ranges:
            text = hyperparameters.get(item.name)
            if text is None:
                return None
            if isinstance(item, CategoricalRange):
                if text not in item.values:
                    return None
                values[item.name] = text
                continue
            try:
                number = float(text)
            except ValueError:
                return None
            if not item.low <= number <= item.high:
                return None
            values[item.name] = int(number) if item.integer else number
        return values


def format_value(item: Range, value: Any) -> str:
    """A sampled value as the hyperparameter string a training job gets."""
    if isinstance(item, CategoricalRange):
        return str(value)
    if item.integer:
        return str(int(value))
    return repr(float(value))


def _number(text: Any, where: str, integer: bool) -> float:
    try:
        value = int(text) if integer else float(text)
    except (TypeError, ValueError):
        kind = "an integer" if integer else "a number"
        raise TuningConfigError(f"{where} must be {kind}; got '{text}'") from None
    if not math.isfinite(value):
        raise TuningConfigError(f"{where} must be a finite number; got '{text}'")
    return float(value)


def _numeric(item: dict[str, Any], where: str, integer: bool) -> NumericRange:
    name = item["Name"]
    low = _number(item["MinValue"], f"{where} '{name}' MinValue", integer)
    high = _number(item["MaxValue"], f"{where} '{name}' MaxValue", integer)
    if low > high:
        raise TuningConfigError(f"{where} '{name}': MinValue {item['MinValue']} is greater than MaxValue "
                                f"{item['MaxValue']}")
    scaling = item.get("ScalingType") or "Auto"
    if scaling == "Logarithmic" and low <= 0:
        raise TuningConfigError(f"{where} '{name}': Logarithmic scaling needs a MinValue greater than 0; "
                                f"got {item['MinValue']}")
    if scaling == "ReverseLogarithmic":
        if integer:
            raise TuningConfigError(f"{where} '{name}': ReverseLogarithmic scaling is only valid for "
                                    "continuous ranges; use Linear or Logarithmic for an integer range")
        if low < 0 or high >= 1:
            raise TuningConfigError(f"{where} '{name}': ReverseLogarithmic scaling needs 0 <= MinValue and "
                                    f"MaxValue < 1; got {item['MinValue']}..{item['MaxValue']}")
    return NumericRange(name, low, high, scaling, integer)


def _categorical(item: dict[str, Any], where: str) -> CategoricalRange:
    name = item["Name"]
    values = [str(v) for v in item.get("Values") or []]
    if not values:
        raise TuningConfigError(f"{where} '{name}' must give at least one value in Values")
    if len(values) > MAX_CATEGORICAL_VALUES:
        raise TuningConfigError(f"{where} '{name}' has {len(values)} values; at most "
                                f"{MAX_CATEGORICAL_VALUES} are allowed")
    if len(set(values)) != len(values):
        raise TuningConfigError(f"{where} '{name}' lists a value more than once")
    return CategoricalRange(name, tuple(values))


def parse_space(ranges: dict[str, Any] | None) -> SearchSpace:
    """The search space of ``ParameterRanges``; TuningConfigError naming what SageMaker would refuse."""
    ranges = ranges or {}
    if ranges.get("AutoParameters"):
        raise TuningConfigError("ParameterRanges.AutoParameters (Autotune) is not supported by modelyard yet; "
                                "give Integer, Continuous or Categorical ranges")
    parsed: list[Range] = []
    for item in ranges.get("IntegerParameterRanges") or []:
        parsed.append(_numeric(item, "IntegerParameterRanges", integer=True))
    for item in ranges.get("ContinuousParameterRanges") or []:
        parsed.append(_numeric(item, "ContinuousParameterRanges", integer=False))
    for item in ranges.get("CategoricalParameterRanges") or []:
        parsed.append(_categorical(item, "CategoricalParameterRanges"))
    if not parsed:
        raise TuningConfigError("ParameterRanges must give at least one Integer, Continuous or Categorical range")
    if len(parsed) > MAX_PARAMETERS:
        raise TuningConfigError(f"At most {MAX_PARAMETERS} hyperparameters can be tuned; got {len(parsed)}")
    seen: set[str] = set()
    for item in parsed:
        if not item.name:
            raise TuningConfigError("Every parameter range needs a Name")
        if item.name in seen:
            raise TuningConfigError(f"Hyperparameter '{item.name}' has more than one range")
        seen.add(item.name)
    return SearchSpace(tuple(parsed))
