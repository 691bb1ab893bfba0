"""When endpoints were last invoked, for what must step aside while they are (``edge.worker_throttle``)."""

from __future__ import annotations

import math
import time


class InvokeActivity:
    """When the last invocation was routed (``time.perf_counter`` seconds): one attribute store per call."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last = -math.inf

    def mark(self, now: float) -> None:
        """An invocation is being routed at ``now``."""
        self.last = now

    def busy(self, within: float) -> bool:
        """Whether an invocation was routed in the last ``within`` seconds."""
        return time.perf_counter() - self.last < within
