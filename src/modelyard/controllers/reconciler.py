"""The keyed reconciler every controller is built on.

    notify(account, region, name)   any thread
        └─► schedule(key)           on the loop; a key already pending is not queued twice
              └─► task: per-key lock ─► reconcile(key)   (reads the store fresh, so no change is missed)

A notification that arrives while ``reconcile(key)`` runs queues exactly one more pass. Background
tasks are tracked; a task that fails is logged, never silently dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, NamedTuple


class ResourceKey(NamedTuple):
    """Which resource a controller acts on."""

    account: str
    region: str
    name: str


class KeyedReconciler:
    """Base of a controller that drives each resource, one pass at a time, toward its stored state."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[ResourceKey] = set()
        self._locks: dict[ResourceKey, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def reconcile(self, key: ResourceKey) -> None:
        """Drive one resource toward its stored desired state (called under the key's lock)."""
        raise NotImplementedError

    def attach(self) -> None:
        """Accept notifications from now on (call from the running loop, in ``start``)."""
        self._loop = asyncio.get_running_loop()

    def notify(self, account: str, region: str, name: str) -> None:
        """Thread-safe: the desired state of a resource changed."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.schedule, ResourceKey(account, region, name))

    def schedule(self, key: ResourceKey) -> None:
        """On the loop: reconcile ``key`` soon, unless a pass is already waiting for its lock."""
        if key in self._pending:
            return
        self._pending.add(key)
        self.spawn(self._pass(key))

    def lock(self, key: ResourceKey) -> asyncio.Lock:
        """The lock serializing everything done to ``key``."""
        return self._locks.setdefault(key, asyncio.Lock())

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coroutine`` in the background; its failure is logged."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def cancel_tasks(self) -> list[asyncio.Task[Any]]:
        """Cancel every background task (shutdown) and return them."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        return tasks

    async def _pass(self, key: ResourceKey) -> None:
        async with self.lock(key):
            self._pending.discard(key)
            try:
                await self.reconcile(key)
            except Exception:
                self.log.exception("reconciling %s failed", key.name)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("background task failed", exc_info=task.exception())
