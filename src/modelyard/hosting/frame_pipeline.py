"""One connection to a toolkit instance carrying several invocations at once (batch transform lanes).

::

    caller 1 ─invoke─┐                                 toolkit: the frames of one connection run one
    caller 2 ─invoke─┼─► one FrameConnection ─────────►          at a time, answers in order
    caller 3 ─invoke─┘   (frames written per loop turn)

The toolkit never runs two frames of one connection at once, so a lane adds no concurrency in the
model: it only keeps the next requests waiting at the instance while one runs, which hides the round
trip. At most ``depth`` requests are in flight; once full, the lane refills only when half of them
have answered, so the requests go in bursts (one write, one wake-up of the toolkit per burst). Calls
go on the wire in the order they were made, however they wait for room.
``budget`` bounds the bytes in flight on the lane (a request larger than the budget still goes,
alone). ``invoke_batch`` sends several records in one frame (``framing.OP_INVOKE_BATCH``): the
toolkit runs them one by one, as separate invocations, and answers them together; an answer whose count
or lengths do not fit raises ``BadBatchAnswer``. A failure closes the connection; the calls waiting
behind the failed one raise ``Withdrawn`` and may be sent again, the next call opens a fresh connection.
"""

from __future__ import annotations

import asyncio
from typing import Any

from modelyard.hosting.frame_client import Frame, FrameConnection, batch_header, invoke_header
from modelyard.hosting.instances import FramedInstance, Invocation, Reply
from modelyard.toolkit import framing

DEFAULT_BUDGET = 1 << 20
"""Bytes of request bodies in flight on one lane."""


class BadBatchAnswer(ConnectionError):
    """The toolkit's answer to a batch does not fit its records (count, lengths or fields): the lane is closed."""


class Answers:
    """The answers to consecutive invocations: ``statuses`` and ``bodies`` side by side (what a transform
    needs of each), ``reply(i)`` the whole of one."""

    __slots__ = ("statuses", "bodies", "_results", "_replies")

    def __init__(self, statuses: list[int], bodies: list[bytes], results: list[list[Any]] | None = None,
                 replies: list[Reply] | None = None) -> None:
        self.statuses = statuses
        self.bodies = bodies
        self._results = results
        self._replies = replies

    @classmethod
    def of(cls, replies: list[Reply]) -> Answers:
        """Answers holding these replies."""
        return cls([reply.status for reply in replies], [reply.body for reply in replies], replies=replies)

    def reply(self, index: int) -> Reply:
        """Answer ``index`` as a Reply."""
        if self._replies is not None:
            return self._replies[index]
        assert self._results is not None
        _, _, content_type, attributes = self._results[index]
        return Reply(self.statuses[index], self.bodies[index], content_type, attributes)


class RecordTimedOut(TimeoutError):
    """The toolkit stopped a batch because record ``index`` of it ran past the timeout."""

    def __init__(self, index: int) -> None:
        super().__init__(f"record {index + 1} of the batch timed out")
        self.index = index


def batch_answers(header: dict[str, Any], body: bytes, count: int) -> Answers:
    """The answers in a batch frame's answer, each field checked (the toolkit runs user code); raises
    RecordTimedOut when the toolkit says a record ran past the timeout, BadBatchAnswer when it does not fit."""
    timed_out = header.get(framing.TIMED_OUT)
    if timed_out is not None:
        if type(timed_out) is not int or not 0 <= timed_out < count:
            raise BadBatchAnswer(f"the toolkit said record {str(timed_out)[:20]} of a batch of {count} timed out")
        raise RecordTimedOut(timed_out)
    results = header.get("results")
    if not isinstance(results, list):
        status = header.get("status")
        message = body[:300].decode("utf-8", "replace").strip()
        raise BadBatchAnswer(f"the toolkit answered a batch of {count} records with status {status!r} and no "
                             f"results: {message}")
    if len(results) != count:
        raise BadBatchAnswer(f"the toolkit answered {len(results)} results to a batch of {count} records")
    if not all(type(entry) is list and len(entry) == 4 for entry in results):
        raise BadBatchAnswer("the toolkit answered a malformed batch result (not [status, length, content "
                             "type, custom attributes])")
    statuses, lengths, content_types, attributes = zip(*results, strict=True)
    if any(type(status) is not int for status in statuses) or not _optional_strings(content_types) \
            or not _optional_strings(attributes):
        raise BadBatchAnswer("the toolkit answered a malformed batch result (a status that is not an integer, "
                             "or a content type or custom attributes that are not strings)")
    try:
        bodies = framing.split_batch(lengths, body)
    except framing.FrameError as exc:
        raise BadBatchAnswer(f"the toolkit's batch answer does not fit: {exc}") from None
    return Answers(list(statuses), bodies, results)


def _optional_strings(values: tuple[Any, ...]) -> bool:
    return {type(value) for value in values} <= {str, type(None)}


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
        self._tickets = 0
        """Calls that asked for room so far; ``_turn`` is the ticket of the next call to go."""
        self._turn = 0
        self._dropped: set[int] = set()
        """Tickets whose calls were cancelled while they waited."""

    async def _connection(self) -> FrameConnection:
        async with self._opening:
            conn = self._conn
            if conn is None or conn.closed:
                conn = self._conn = await self.instance.open_frames()
            return conn

    async def invoke(self, invocation: Invocation, timeout: float) -> Reply:
        """Send one invocation on the lane and wait for its answer; ``timeout`` counts from when the
        toolkit can start it. Raises asyncio.TimeoutError, OSError (``Withdrawn`` when it never started)."""
        header, body = await self._call(invoke_header(
            invocation.content_type, invocation.accept, invocation.custom_attributes, invocation.inference_id,
            invocation.target_model), invocation.body, len(invocation.body), timeout)
        return Reply(int(header.get("status", 500)), body, header.get("content_type"),
                     header.get("custom_attributes"))

    async def invoke_batch(self, bodies: list[bytes], content_type: str | None, accept: str | None,
                           timeout: float) -> Answers:
        """Send several records in one frame (the toolkit runs each as its own invocation, in order) and
        return their answers; ``timeout`` is per record: the toolkit stops the batch when a record runs
        longer (RecordTimedOut), and the frame as a whole may take that many times it.
        Raises what ``invoke`` raises, and ``BadBatchAnswer`` for an answer that does not fit the records."""
        lengths = [len(body) for body in bodies]
        payload = b"".join(bodies)
        header, body = await self._call(batch_header(lengths, content_type, accept, timeout), payload,
                                        len(payload), timeout * len(bodies))
        try:
            return batch_answers(header, body, len(bodies))
        except (BadBatchAnswer, RecordTimedOut):
            self.close()
            raise

    async def _admit(self, size: int) -> None:
        """Wait for room on the lane, in turn: calls go on the wire in the order they asked for room."""
        ticket = self._tickets
        self._tickets += 1
        try:
            while ticket != self._turn or (self._in_flight and (
                    self._in_flight >= self.depth or not self._refill or self._bytes + size > self.budget)):
                self._room.clear()
                await self._room.wait()
        except BaseException:
            self._dropped.add(ticket)
            self._next_turn()
            raise
        self._turn += 1
        self._next_turn()

    def _next_turn(self) -> None:
        while self._turn in self._dropped:
            self._dropped.discard(self._turn)
            self._turn += 1
        if self._turn != self._tickets:
            self._room.set()

    async def _call(self, raw_header: bytes, payload: bytes, size: int, timeout: float) -> Frame:
        if self._turn != self._tickets or (self._in_flight and (
                self._in_flight >= self.depth or not self._refill or self._bytes + size > self.budget)):
            await self._admit(size)
        else:
            self._tickets += 1
            self._turn += 1
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
            return await conn.call(raw_header, payload, timeout)
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

    def close(self) -> None:
        """Close the lane's connection (calls in flight fail)."""
        if self._conn is not None:
            self._conn.close()
