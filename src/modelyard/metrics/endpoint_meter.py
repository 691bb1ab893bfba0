"""The invoke path's recorder: a few additions and two list appends per call, no I/O, no lock.

It is only touched on the event loop (invocations and ``drain``), so plain dicts suffice. ``drain``
turns the counters into SageMaker's endpoint metrics (namespace ``AWS/SageMaker``, dimensions
EndpointName and VariantName, latencies in microseconds) for the buffer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from modelyard.metrics.aggregate import Aggregate
from modelyard.metrics.buffer import PointKey
from modelyard.metrics.series import SeriesKey

ENDPOINT_NAMESPACE = "AWS/SageMaker"
OK, CLIENT_ERROR, SERVER_ERROR = 0, 4, 5


class Tally:
    """One endpoint variant's invocations in one minute."""

    __slots__ = ("invocations", "client_errors", "server_errors", "model_errors", "per_instance",
                 "model_latency", "overhead_latency", "container_latency")

    def __init__(self) -> None:
        self.invocations = 0
        self.client_errors = 0
        self.server_errors = 0
        self.model_errors = 0
        self.per_instance = 0.0
        self.model_latency: list[float] = []
        self.overhead_latency: list[float] = []
        self.container_latency: dict[str, list[float]] | None = None
        """A multi-container variant's ContainerLatency samples by container name."""


TallyKey = tuple[str, str, str, str, int]
"""(account, region, endpoint, variant, minute)."""


class EndpointMeter:
    """Per-minute tallies of invocations by endpoint variant."""

    def __init__(self) -> None:
        self._tallies: dict[TallyKey, Tally] = {}

    def record(self, account: str, region: str, endpoint: str, variant: str, instances: int,
               model_seconds: float | None, overhead_seconds: float, outcome: int, model_error: bool,
               containers: tuple[tuple[str, float], ...] = ()) -> None:
        """One invocation: its outcome (OK, CLIENT_ERROR, SERVER_ERROR), whether the model failed it,
        and its latencies (``model_seconds`` None when no instance answered; ``containers``: each called
        container's seconds, for a multi-container variant)."""
        key = (account, region, endpoint, variant, int(time.time() // 60) * 60)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = Tally()
        tally.invocations += 1
        tally.per_instance += 1.0 / instances if instances > 0 else 1.0
        if outcome == CLIENT_ERROR:
            tally.client_errors += 1
        elif outcome == SERVER_ERROR:
            tally.server_errors += 1
        if model_error:
            tally.model_errors += 1
        if model_seconds is not None:
            tally.model_latency.append(model_seconds * 1e6)
        tally.overhead_latency.append(overhead_seconds * 1e6)
        if containers:
            by_container = tally.container_latency
            if by_container is None:
                by_container = tally.container_latency = {}
            for container, seconds in containers:
                by_container.setdefault(container, []).append(seconds * 1e6)

    def drain(self) -> dict[TallyKey, Tally]:
        """The tallies so far; the meter starts empty (call on the event loop)."""
        tallies, self._tallies = self._tallies, {}
        return tallies


def endpoint_points(tallies: dict[TallyKey, Tally]) -> Iterator[tuple[PointKey, Aggregate]]:
    """SageMaker's endpoint metrics from drained tallies (run off the event loop: it builds histograms)."""
    for (account, region, endpoint, variant, minute), tally in tallies.items():
        dimensions = (("EndpointName", endpoint), ("VariantName", variant))

        def key(name: str, unit: str) -> PointKey:
            return SeriesKey(account, region, ENDPOINT_NAMESPACE, name, dimensions), minute, unit  # noqa: B023

        count = tally.invocations
        for name, errors in (("Invocation4XXErrors", tally.client_errors),
                             ("Invocation5XXErrors", tally.server_errors),
                             ("InvocationModelErrors", tally.model_errors)):
            aggregate = Aggregate()
            aggregate.add(1.0, errors)
            aggregate.add(0.0, count - errors)
            yield key(name, "None"), aggregate
        invocations = Aggregate()
        invocations.add(1.0, count)
        yield key("Invocations", "None"), invocations
        per_instance = Aggregate()
        per_instance.add_statistic_set(1.0, tally.per_instance, tally.per_instance, tally.per_instance)
        yield key("InvocationsPerInstance", "None"), per_instance
        for name, samples in (("ModelLatency", tally.model_latency), ("OverheadLatency", tally.overhead_latency)):
            if samples:
                latency = Aggregate()
                latency.add_values(samples)
                yield key(name, "Microseconds"), latency
        for container, samples in (tally.container_latency or {}).items():
            latency = Aggregate()
            latency.add_values(samples)
            series = SeriesKey(account, region, ENDPOINT_NAMESPACE, "ContainerLatency",
                               tuple(sorted((*dimensions, ("ContainerName", container)))))
            yield (series, minute, "Microseconds"), latency

