"""How long a crashed instance waits before its replacement starts.

    delay(restarts) = 0 for the first restart, then min(base * 2**restarts, cap)
    an instance that ran healthy for reset_after seconds or more before it crashed starts the count over
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_RESET_SECONDS = 300.0


@dataclass(frozen=True)
class RestartBackoff:
    """The crash-restart delay policy of an endpoint's instances."""

    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    reset_after_seconds: float = DEFAULT_RESET_SECONDS

    def restarts_so_far(self, previous: int, healthy_seconds: float) -> int:
        """The crash count to go on from: ``previous``, or 0 after a long enough healthy run."""
        return 0 if healthy_seconds >= self.reset_after_seconds else previous

    def delay(self, restarts: int) -> float:
        """Seconds to wait before restart number ``restarts + 1``."""
        if restarts <= 0:
            return 0.0
        return min(2.0 ** restarts * self.base_seconds, self.cap_seconds)
