"""A serverless variant's capacity as the invoke path sees it: admission, cold start, scale-out demand.

    call arrives ── in flight ≥ MaxConcurrency ──► ThrottlingException (at once, never queued)
        │ no instance, or every instance busy and fewer than the cap running or starting
        ├──► demand(): the controller starts one more instance (its start time is ModelSetupTime)
        │ no instance yet
        └──► wait for one until the invocation timeout ──► ModelNotReadyException (the start goes on)
                                                    or ──► ModelError when the start failed

The controller owns the instances: it publishes them (``set_instances``), reports failed starts
(``start_failed``) and stops instances once the variant has been idle for the idle time
(``idle_for``), keeping ``ProvisionedConcurrency`` warm.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelyard.hosting.instances import InstanceClient

SERVERLESS_PAYLOAD_BYTES = 4 * 1024 * 1024
"""SageMaker's payload limit for serverless endpoints, each way."""


@dataclass(frozen=True)
class ServerlessShape:
    """A variant's ``ServerlessConfig``."""

    memory_mb: int
    max_concurrency: int
    provisioned: int = 0

    def document(self) -> dict[str, int]:
        """The config as DescribeEndpoint shows it."""
        shown = {"MemorySizeInMB": self.memory_mb, "MaxConcurrency": self.max_concurrency}
        if self.provisioned:
            shown["ProvisionedConcurrency"] = self.provisioned
        return shown


class ServerlessGate:
    """Admission and cold starts of one serverless variant (one per deployment, shared by its routes)."""

    def __init__(self, shape: ServerlessShape, cap: int, demand: Callable[[], object],
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``cap`` bounds the instances on this host; ``demand`` asks the controller for one more."""
        self.reshape(shape, cap)
        self.demand = demand
        self.clock = clock
        self.in_flight = 0
        self.instances = 0
        self.starting = 0
        self.failure: str | None = None
        self.last_activity = clock()
        self.setup_seconds: deque[float] = deque(maxlen=100)
        """Cold-start times (ModelSetupTime) of the latest instances, in seconds."""
        self._available = asyncio.Event()

    def reshape(self, shape: ServerlessShape, cap: int) -> None:
        """New concurrency settings (UpdateEndpointWeightsAndCapacities' ServerlessUpdateConfig)."""
        self.shape = shape
        self.cap = max(1, min(cap, shape.max_concurrency))

    def admit(self) -> bool:
        """Count a call in; False when MaxConcurrency calls are already in flight."""
        if self.in_flight >= self.shape.max_concurrency:
            return False
        self.in_flight += 1
        self.last_activity = self.clock()
        return True

    def leave(self) -> None:
        """Count a call out."""
        self.in_flight -= 1
        self.last_activity = self.clock()

    def want_capacity(self, instances: Sequence[InstanceClient]) -> None:
        """Ask for one more instance when there is none, or when all of ``instances`` (the variant's) have a
        call outstanding and the cap allows."""
        if self.instances + self.starting >= self.cap:
            return
        if self.instances == 0 and self.starting:
            return
        if self.instances == 0 or all(instance.outstanding for instance in instances):
            self.failure = None
            self.starting += 1
            self.demand()

    async def wait_for_instance(self, timeout: float) -> bool:
        """Wait until an instance is published or a start failed; False on timeout."""
        if self.instances or self.failure:
            return True
        try:
            await asyncio.wait_for(self._available.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def started(self, seconds: float) -> None:
        """A demanded instance is up after ``seconds`` (recorded as ModelSetupTime)."""
        self.starting = max(0, self.starting - 1)
        self.setup_seconds.append(seconds)

    def start_failed(self, reason: str) -> None:
        """A demanded instance could not start: calls waiting for one get ``reason``."""
        self.starting = max(0, self.starting - 1)
        if not self.instances:
            self.failure = reason
            self._available.set()
            self._available = asyncio.Event()

    def set_instances(self, count: int) -> None:
        """The number of published instances changed."""
        self.instances = count
        if count:
            self.failure = None
            self._available.set()
        elif self._available.is_set():
            self._available = asyncio.Event()

    def idle_for(self) -> float:
        """Seconds since the last call came or went (0 while calls are in flight)."""
        return 0.0 if self.in_flight else self.clock() - self.last_activity
