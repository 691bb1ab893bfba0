"""What names one metric: account, region, namespace, metric name and the exact dimension set."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import NamedTuple

Dimensions = tuple[tuple[str, str], ...]
"""(name, value) pairs sorted by name: one metric per distinct set, as CloudWatch counts them."""

NO_UNIT = "None"


def dimensions_of(pairs: Iterable[Mapping[str, str]] | None) -> Dimensions:
    """Sorted dimensions from the wire's ``[{"Name": ..., "Value": ...}]``."""
    return tuple(sorted((pair["Name"], pair["Value"]) for pair in pairs or ()))


def encode_dimensions(dimensions: Dimensions) -> str:
    """The canonical text the store keys a series by."""
    return json.dumps([list(pair) for pair in dimensions], separators=(",", ":"))


def decode_dimensions(text: str) -> Dimensions:
    """The dimensions ``encode_dimensions`` wrote."""
    return tuple((name, value) for name, value in json.loads(text))


def wire_dimensions(dimensions: Dimensions) -> list[dict[str, str]]:
    """The wire's ``[{"Name": ..., "Value": ...}]``."""
    return [{"Name": name, "Value": value} for name, value in dimensions]


class SeriesKey(NamedTuple):
    """One metric of one account in one region."""

    account: str
    region: str
    namespace: str
    name: str
    dimensions: Dimensions


def minute_of(timestamp: float) -> int:
    """Epoch seconds of the start of the minute ``timestamp`` falls in."""
    return int(timestamp // 60) * 60
