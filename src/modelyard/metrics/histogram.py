"""A sparse log-bucketed histogram: percentiles of a minute's samples within 1 % relative error.

A positive value ``v`` falls in bucket ``ceil(log(v) / log(GAMMA))``, i.e. ``(GAMMA**(i-1), GAMMA**i]``;
a bucket answers ``GAMMA**(i - 0.5)``, at most ``sqrt(GAMMA) - 1`` (0.995 %) from any value in it.
Negative values mirror the positive buckets; zero has its own count. Encoded as compact JSON with the
buckets in ascending index order, so a stored minute's percentile is read in one pass
(``encoded_percentile``) without building the histogram.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

GAMMA = 1.02
_LOG_GAMMA = math.log(GAMMA)
RELATIVE_ERROR = math.sqrt(GAMMA) - 1


def bucket_of(magnitude: float) -> int:
    """The bucket index of a positive magnitude."""
    return math.ceil(math.log(magnitude) / _LOG_GAMMA - 1e-9)


def bucket_value(index: int) -> float:
    """The value a bucket answers for."""
    return float(GAMMA ** (index - 0.5))


@dataclass
class Histogram:
    """Counts per bucket of positive and negative magnitudes, and of zeros."""

    positive: dict[int, float] = field(default_factory=dict)
    negative: dict[int, float] = field(default_factory=dict)
    zeros: float = 0.0

    def add(self, value: float, count: float = 1.0) -> None:
        """Count ``value`` ``count`` times."""
        if value > 0:
            index = bucket_of(value)
            self.positive[index] = self.positive.get(index, 0.0) + count
        elif value < 0:
            index = bucket_of(-value)
            self.negative[index] = self.negative.get(index, 0.0) + count
        else:
            self.zeros += count

    def merge(self, other: Histogram) -> None:
        """Add another histogram's counts to this one."""
        for mine, theirs in ((self.positive, other.positive), (self.negative, other.negative)):
            for index, count in theirs.items():
                mine[index] = mine.get(index, 0.0) + count
        self.zeros += other.zeros

    @property
    def total(self) -> float:
        """The number of samples counted."""
        return sum(self.positive.values()) + sum(self.negative.values()) + self.zeros

    def percentile(self, percent: float) -> float | None:
        """The nearest-rank ``percent`` percentile's bucket value; None when empty."""
        total = self.total
        if total <= 0:
            return None
        rank = max(percent / 100.0 * total, min(total, 1.0))
        seen = 0.0
        for index in sorted(self.negative, reverse=True):
            seen += self.negative[index]
            if seen >= rank - 1e-9:
                return -bucket_value(index)
        seen += self.zeros
        if seen >= rank - 1e-9 and self.zeros:
            return 0.0
        for index in sorted(self.positive):
            seen += self.positive[index]
            if seen >= rank - 1e-9:
                return bucket_value(index)
        return bucket_value(max(self.positive)) if self.positive else 0.0

    def encode(self) -> str:
        """Compact JSON: ``{"p": [[index, count], ...], "n": [...], "z": zeros}``, pairs in ascending index
        order, empty parts left out."""
        document: dict[str, object] = {}
        if self.positive:
            document["p"] = sorted(self.positive.items())
        if self.negative:
            document["n"] = sorted(self.negative.items())
        if self.zeros:
            document["z"] = self.zeros
        return json.dumps(document, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> Histogram:
        """The histogram ``encode`` wrote (also the earlier ``{"p": {index: count}}`` form)."""
        document = json.loads(text)
        return cls(_buckets(document.get("p")), _buckets(document.get("n")), float(document.get("z", 0.0)))


def _buckets(part: list[list[float]] | dict[str, float] | None) -> dict[int, float]:
    if not part:
        return {}
    if isinstance(part, dict):
        return {int(k): float(v) for k, v in part.items()}
    return {int(index): float(count) for index, count in part}


def encoded_percentile(text: str, percent: float, total: float) -> float | None:
    """``Histogram.decode(text).percentile(percent)`` read in one pass over the encoded buckets, given the
    histogram's ``total`` (a stored minute's sample count)."""
    document = json.loads(text)
    positive, negative = document.get("p") or (), document.get("n") or ()
    if isinstance(positive, dict) or isinstance(negative, dict):
        return Histogram.decode(text).percentile(percent)
    if total <= 0:
        return None
    rank = max(percent / 100.0 * total, min(total, 1.0)) - 1e-9
    seen = 0.0
    for index, count in reversed(negative):
        seen += count
        if seen >= rank:
            return -bucket_value(int(index))
    zeros = document.get("z", 0.0)
    seen += zeros
    if seen >= rank and zeros:
        return 0.0
    for index, count in positive:
        seen += count
        if seen >= rank:
            return bucket_value(int(index))
    return bucket_value(int(positive[-1][0])) if positive else 0.0
