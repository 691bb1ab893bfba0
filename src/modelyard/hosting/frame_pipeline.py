"""One connection to a toolkit instance carrying several invocations at once (batch transform lanes).

::

    caller 1 ─invoke─┐                                 toolkit: the frames of one connection run one
    caller 2 ─invoke─┼─► one FrameConnection ─────────►          at a time, answers in order
    caller 3 ─invoke─┘   (frames written per loop turn)

The toolkit never runs two frames of one connection at once, so a lane adds no concurrency in the
model: it only keeps the next requests waiting at the instance while one runs, which hides the round
trip. At most ``depth`` requests are in flight; once full, the lane refills only when half of them
have answered, so the requests go in bursts (one write, one wake-up of the toolkit per burst).
``budget`` bounds the bytes in flight on the lane (a request larger than the budget still goes,
alone). A failure closes the connection; the calls waiting behind the failed one raise ``Withdrawn``
and may be sent again, the next call opens a fresh connection.
"""

from __future__ import annotations

import asyncio

from modelyard.hosting.frame_client import FrameConnection, invoke_header
from modelyard.hosting.instances import FramedInstance, Invocation, Reply

DEFAULT_BUDGET = 1 << 20
"""Bytes of request bodies in flight on one lane."""


class FramePipeline:
    """A pipelined lane to one ``FramedInstance``."""

    def __init__(self, instance: FramedInstance, depth: int, budget: int = DEFAULT_BUDGET) -> None:
        self.instance = instance
        self.depth = depth
        self.low = depth // 2
        self.budget = budget
        self._conn: FrameConnection | None = None
        self._opening = asyncio.Lock()
        self._bytes = 0
        self._in_flight = 0
        self._refill = True
        self._room = asyncio.Event()

    async def _connection(self) -> FrameConnection:
        async with self._opening:
            conn = self._conn
            if conn is None or conn.closed:
                conn = self._conn = await self.instance.open_frames()
            return conn

    async def invoke(self, invocation: Invocation, timeout: float) -> Reply:
        """Send one invocation on the lane and wait for its answer; ``timeout`` counts from when the
        toolkit can start it. Raises asyncio.TimeoutError, OSError (``Withdrawn`` when it never started)."""
        size = len(invocation.body)
        while self._in_flight and (self._in_flight >= self.depth or not self._refill
                                   or self._bytes + size > self.budget):
            self._room.clear()
            await self._room.wait()
        conn = self._conn
        if conn is None or conn.closed:
            conn = await self._connection()
        instance = self.instance
        instance.outstanding += 1
        self._bytes += size
        self._in_flight += 1
        if self._in_flight >= self.depth:
            self._refill = False
        try:
            header, body = await conn.call(invoke_header(
                invocation.content_type, invocation.accept, invocation.custom_attributes, invocation.inference_id,
                invocation.target_model), invocation.body, timeout)
        except BaseException:
            conn.close()
            raise
        finally:
            instance.outstanding -= 1
            self._bytes -= size
            self._in_flight -= 1
            if self._in_flight <= self.low:
                self._refill = True
                self._room.set()
        return Reply(int(header.get("status", 500)), body, header.get("content_type"),
                     header.get("custom_attributes"))

    def close(self) -> None:
        """Close the lane's connection (calls in flight fail)."""
        if self._conn is not None:
            self._conn.close()
