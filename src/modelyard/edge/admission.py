"""Admission to a service's control plane: at most ``concurrency`` requests decode and run at once,
at most ``queue`` more wait; beyond that the caller is throttled rather than the event loop starved.

    async with gate.admitted():   # ThrottlingException when concurrency + queue are taken
        params = await gate.offload(call.decode, request, body)   # large bodies: in the thread pool
        result = await handler(ctx, params)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from contextlib import asynccontextmanager
from typing import TypeVar

from modelyard.wire.errors import ThrottlingException

T = TypeVar("T")


class AdmissionGate:
    """Bounds one service's concurrent requests and moves large decodes off the event loop."""

    def __init__(self, concurrency: int, queue: int, executor: Executor, offload_bytes: int) -> None:
        self.concurrency = concurrency
        self.queue = queue
        self.executor = executor
        self.offload_bytes = offload_bytes
        self._slots = asyncio.Semaphore(concurrency)
        self._waiting = 0

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """Hold one of the service's slots; throttle when every slot and queue place is taken."""
        if self._slots.locked() and self._waiting >= self.queue:
            raise ThrottlingException(
                f"Rate exceeded: this server runs {self.concurrency} requests of the service at once "
                f"and queues {self.queue}; retry with backoff")
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()

    async def offload(self, size: int, work: Callable[[], T]) -> T:
        """``work()`` on the loop for a small body, in the thread pool for one over ``offload_bytes``."""
        if size <= self.offload_bytes:
            return work()
        return await asyncio.get_running_loop().run_in_executor(self.executor, work)
