"""In-memory backlog figures of the asynchronous queue, per endpoint, for the metrics issue to publish.

``ApproximateBacklogSize`` counts requests queued or running, ``ApproximateAgeOfOldestRequest`` is the
age of the oldest of them, ``ApproximateBacklogSizePerInstance`` divides the size by the endpoint's
instances (``HasBacklogWithoutCapacity`` when there are none); counters: ``ExpiredRequests``,
``InvocationFailures``, ``NotificationFailures``, ``Invocations``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

EndpointKey = tuple[str, str, str]
"""(account, region, endpoint name)."""


@dataclass
class _Endpoint:
    waiting: dict[str, float] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)


class Backlog:
    """Backlog sizes, oldest ages and counters; safe to use from any thread."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._endpoints: dict[EndpointKey, _Endpoint] = {}

    def _entry(self, key: EndpointKey) -> _Endpoint:
        entry = self._endpoints.get(key)
        if entry is None:
            entry = self._endpoints[key] = _Endpoint()
        return entry

    def added(self, key: EndpointKey, invocation_id: str, received_at: float) -> None:
        """A request entered the queue (or was found there at start-up)."""
        with self._lock:
            self._entry(key).waiting[invocation_id] = received_at

    def removed(self, key: EndpointKey, invocation_id: str, outcome: str | None = None) -> None:
        """A request left the queue; ``outcome`` names the counter it adds to."""
        with self._lock:
            entry = self._entry(key)
            entry.waiting.pop(invocation_id, None)
            if outcome:
                entry.counters[outcome] += 1

    def count(self, key: EndpointKey, counter: str) -> None:
        """Add one to an endpoint's counter (``NotificationFailures`` …)."""
        with self._lock:
            self._entry(key).counters[counter] += 1

    def figures(self, key: EndpointKey, instances: int) -> dict[str, float]:
        """The endpoint's backlog figures now, with its counters."""
        with self._lock:
            entry = self._endpoints.get(key) or _Endpoint()
            size = len(entry.waiting)
            oldest = min(entry.waiting.values(), default=None)
            counters = dict(entry.counters)
        figures: dict[str, float] = {
            "ApproximateBacklogSize": float(size),
            "ApproximateBacklogSizePerInstance": float(size) / instances if instances else float(size),
            "ApproximateAgeOfOldestRequest": max(0.0, self._clock() - oldest) if oldest is not None else 0.0,
            "HasBacklogWithoutCapacity": 1.0 if size and not instances else 0.0,
        }
        figures.update({name: float(value) for name, value in counters.items()})
        return figures
