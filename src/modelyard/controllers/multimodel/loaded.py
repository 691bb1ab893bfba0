"""One model loaded on a multi-model instance: how it is served, its artifact's fingerprint and its use."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from modelyard.controllers.multimodel.servers import ModelServer
from modelyard.wire.errors import ModelError


@dataclass(eq=False)
class LoadedModel:
    """A TargetModel served from memory (each load its own object, compared by identity)."""

    target: str
    fingerprint: str
    server: ModelServer
    load_seconds: float
    memory_bytes: int = 0
    loaded_at: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.monotonic)
    checked_at: float = field(default_factory=time.monotonic)
    in_flight: int = 0
    hits: int = 0
    stale: bool = False
    """Its artifact changed at the source: calls wait for the new version."""
    unloading: bool = False
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once its unload finished (a new load of the same target waits for it)."""

    def touch(self) -> None:
        """Mark a use now (least-recently-used order and the idle TTL)."""
        self.last_used = time.monotonic()

    def alive(self) -> bool:
        """Whether it can still answer."""
        return self.server.alive()


@dataclass
class ModelRecord:
    """What an instance remembers of a model across loads: counts, and the last failed load."""

    loads: int = 0
    unloads: int = 0
    hits: int = 0
    misses: int = 0
    last_load_seconds: float | None = None
    failures: int = 0
    failed_fingerprint: str | None = None
    failed_error: ModelError | None = None
    retry_at: float = 0.0
