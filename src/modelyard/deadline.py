"""A deadline that moves on every request without creating a timer each time.

A connection re-arms its read deadline several times per request (headers, body, idle) and a frame
connection times each call; with ``call_later`` each move costs a timer handle created and one cancelled.
``Deadline`` keeps at most one timer, due no later than the deadline: moving the deadline later only
updates a number (the timer, when it fires early, re-arms itself for what remains), moving it earlier
replaces the timer, and clearing it leaves the timer to fire into nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

SLACK_SECONDS = 0.001
"""A timer that fires this close before the deadline counts as on time (timers round to milliseconds)."""


class Deadline:
    """Calls ``expired()`` on ``loop`` once the time set by ``set`` passes, unless cleared or set again."""

    __slots__ = ("_due", "_expired", "_handle", "_loop", "at")

    def __init__(self, loop: asyncio.AbstractEventLoop, expired: Callable[[], None]) -> None:
        self._loop = loop
        self._expired = expired
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0
        self.at: float | None = None
        """The loop time at which ``expired`` runs; None when no deadline is set."""

    def set(self, seconds: float) -> None:
        """Expire ``seconds`` from now (replacing any earlier setting)."""
        loop = self._loop
        at = self.at = loop.time() + seconds
        handle = self._handle
        if handle is None or self._due > at:
            if handle is not None:
                handle.cancel()
            self._due = at
            self._handle = loop.call_at(at, self._fire)

    def clear(self) -> None:
        """No deadline until the next ``set``."""
        self.at = None

    def close(self) -> None:
        """Clear, and drop the timer now (the owner is going away)."""
        self.at = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        at = self.at
        if at is None:
            return
        if at - self._loop.time() > SLACK_SECONDS:
            self._due = at
            self._handle = self._loop.call_at(at, self._fire)
            return
        self.at = None
        self._expired()
