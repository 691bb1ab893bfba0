"""Training metrics from log lines, the way SageMaker reads ``MetricDefinitions``.

    [{"Name": "train:loss", "Regex": "loss=([0-9.]+)"}]
    "epoch 3 loss=0.25"  ──► MetricTracker.observe ──► final() == [{"MetricName": "train:loss",
                                                                    "Value": 0.25, "Timestamp": ...}]

The value is the regex's first group (the whole match when it has none), read as a float; text
that is not a finite number is skipped. ``final`` keeps the last value seen per metric, in the
order the metrics were defined.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_METRIC_DEFINITIONS = 40


class MetricDefinitionError(ValueError):
    """A metric definition that cannot be used (the message says which and why)."""


@dataclass(frozen=True)
class MetricDefinition:
    """One named regular expression."""

    name: str
    pattern: re.Pattern[str]


def compile_definitions(definitions: Sequence[Mapping[str, Any]] | None) -> list[MetricDefinition]:
    """Compile ``AlgorithmSpecification.MetricDefinitions``; MetricDefinitionError when one is unusable."""
    definitions = list(definitions or [])
    if len(definitions) > MAX_METRIC_DEFINITIONS:
        raise MetricDefinitionError(
            f"At most {MAX_METRIC_DEFINITIONS} metric definitions are allowed; got {len(definitions)}")
    compiled: list[MetricDefinition] = []
    seen: set[str] = set()
    for definition in definitions:
        name, regex = definition["Name"], definition["Regex"]
        if name in seen:
            raise MetricDefinitionError(f"Metric name '{name}' is defined more than once")
        seen.add(name)
        try:
            compiled.append(MetricDefinition(name, re.compile(regex)))
        except re.error as exc:
            raise MetricDefinitionError(f"The regex of metric '{name}' is not valid: {exc} ({regex!r})") from None
    return compiled


def metric_value(pattern: re.Pattern[str], line: str) -> float | None:
    """The metric's value in ``line``, or None when the line does not carry one."""
    found = pattern.search(line)
    if found is None:
        return None
    text = found.group(1) if pattern.groups else found.group(0)
    try:
        value = float(text.strip()) if text is not None else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) else None


MetricListener = Callable[[str, float, float], None]
"""Told every value found: (metric name, value, timestamp)."""


class MetricTracker:
    """Feeds log lines through the definitions and remembers the last value of each metric (and tells
    ``listener`` every value, e.g. to publish it to CloudWatch)."""

    def __init__(self, definitions: Sequence[MetricDefinition], listener: MetricListener | None = None) -> None:
        self.definitions = list(definitions)
        self.listener = listener
        self._last: dict[str, tuple[float, float]] = {}

    def observe(self, line: str, timestamp: float) -> None:
        """Look for every metric in one log line (``timestamp`` in epoch seconds)."""
        for definition in self.definitions:
            value = metric_value(definition.pattern, line)
            if value is not None:
                self._last[definition.name] = (value, timestamp)
                if self.listener is not None:
                    self.listener(definition.name, value, timestamp)

    def final(self) -> list[dict[str, Any]]:
        """``FinalMetricDataList``: the last value of every metric seen, in definition order."""
        return [{"MetricName": d.name, "Value": self._last[d.name][0], "Timestamp": self._last[d.name][1]}
                for d in self.definitions if d.name in self._last]
