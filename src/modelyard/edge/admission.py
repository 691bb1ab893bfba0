"""Admission to a service's control plane: at most ``concurrency`` requests decode and run at once,
at most ``queue`` more wait; beyond that the caller is throttled rather than the event loop starved.

    async with gate.admitted():   # ThrottlingException when concurrency + queue are taken
        params = await gate.offload(len(body), call.decode, request, body)
        result = await handler(ctx, params)

A body over ``offload_bytes`` is decoded in the decoder executor: a worker process by default, because
parsing holds the GIL in C for its whole length (0.2 s for 14 MB) and would stall the event loop from
any thread of this process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from modelyard.wire.errors import ServiceUnavailable, ThrottlingException

T = TypeVar("T")


class AdmissionGate:
    """Bounds one service's concurrent requests and moves large decodes off the event loop."""

    def __init__(self, concurrency: int, queue: int, decoder: Executor, offload_bytes: int) -> None:
        self.concurrency = concurrency
        self.queue = queue
        self.decoder = decoder
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

    async def offload(self, size: int, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` on the loop for a small body, in the decoder for one over ``offload_bytes``
        (``work`` and ``args`` must pickle when the decoder is a process pool)."""
        if size <= self.offload_bytes:
            return work(*args)
        try:
            return await asyncio.get_running_loop().run_in_executor(self.decoder, work, *args)
        except BrokenProcessPool:
            raise ServiceUnavailable("The request decoder process failed; retry the request") from None
