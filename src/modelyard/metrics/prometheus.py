"""The Prometheus text exposition of an account's metrics: the last complete minute of every series.

Each CloudWatch metric is a gauge family of its own name (characters Prometheus does not allow become
``_``); its namespace, region and dimensions are labels, and ``statistic`` says which one-minute
statistic the sample is (Sum, SampleCount, Average, Minimum, Maximum, and p50/p90/p99 where the
minute has a distribution)::

    # TYPE ModelLatency gauge
    ModelLatency{namespace="AWS/SageMaker",region="us-east-1",EndpointName="ep",VariantName="v1",statistic="p99"} 5120.0
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from modelyard.metrics.aggregate import Aggregate
from modelyard.metrics.histogram import Histogram
from modelyard.metrics.series import decode_dimensions
from modelyard.metrics.statistics import BASIC, parse_statistic
from modelyard.store.metrics import LatestPoint

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PERCENTILES = ("p50", "p90", "p99")
_NAME_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
_LABEL_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(name: str) -> str:
    """A valid Prometheus metric name for a CloudWatch metric name."""
    cleaned = _NAME_INVALID.sub("_", name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"_{cleaned}"


def label_name(name: str) -> str:
    """A valid Prometheus label name for a dimension name (a clash with ours gets a ``dimension_`` prefix)."""
    cleaned = _LABEL_INVALID.sub("_", name)
    if not cleaned or cleaned[0].isdigit() or cleaned.startswith("__") or cleaned in ("namespace", "region",
                                                                                        "statistic"):
        cleaned = f"dimension_{cleaned}"
    return cleaned


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(points: Iterable[LatestPoint]) -> str:
    """The exposition of the given rows (one minute; rows of one series in several units are merged)."""
    merged: dict[tuple[str, str, str, str], Aggregate] = {}
    for latest in points:
        key = (latest.name, latest.namespace, latest.region, latest.dimensions)
        row = latest.point
        aggregate = Aggregate(row.sample_count, row.total, row.minimum, row.maximum,
                              Histogram.decode(row.histogram) if row.histogram is not None else None)
        if key in merged:
            merged[key].merge(aggregate)
        else:
            merged[key] = aggregate
    lines: list[str] = []
    family = None
    for (name, namespace, region, dimensions), aggregate in merged.items():
        prometheus_name = metric_name(name)
        if prometheus_name != family:
            family = prometheus_name
            lines.append(f"# TYPE {prometheus_name} gauge")
        labels = [("namespace", namespace), ("region", region)]
        labels += [(label_name(dimension), value) for dimension, value in decode_dimensions(dimensions)]
        for statistic_name in (*BASIC, *PERCENTILES):
            value = parse_statistic(statistic_name).of(aggregate)
            if value is None:
                continue
            text = ",".join(f'{label}="{_escape(value)}"' for label, value in (*labels,
                                                                                 ("statistic", statistic_name)))
            lines.append(f"{prometheus_name}{{{text}}} {value!r}")
    return "\n".join(lines) + "\n" if lines else ""
