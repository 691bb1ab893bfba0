"""One instance of a multi-container model: its containers' clients, called as SageMaker calls them.

    Serial (an inference pipeline): container 1 gets the caller's body and Content-Type; each next one gets
        the previous answer's body and Content-Type; only the last gets the caller's Accept (the others
        answer in their default, e.g. SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT); the first error answer, or
        the last container's answer, is the instance's answer
    Direct: the invocation's TargetContainerHostname picks the one container that answers

Each answer is a ``ChainReply``: it names the container that gave it and how long every called container
took (SageMaker's ContainerLatency). The invocation timeout bounds the whole
chain; a container that exceeds what is left raises ``ContainerTimeout`` naming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from modelyard.hosting.instances import (
    ChainReply,
    DirectInvocation,
    Ending,
    InstanceClient,
    Invocation,
    Reply,
    StreamedReply,
)

SERIAL, DIRECT = "Serial", "Direct"
T = TypeVar("T")


class ContainerTimeout(asyncio.TimeoutError):
    """A container of a multi-container instance did not answer in time."""

    def __init__(self, container: str) -> None:
        super().__init__(container)
        self.container = container


@dataclass(frozen=True)
class ChainMember:
    """One container of a multi-container instance: its name (ContainerHostname, else ``container-<n>``)
    and its client."""

    name: str
    client: InstanceClient


class ContainerChain:
    """An ``InstanceClient`` over the containers of one multi-container instance."""

    def __init__(self, members: list[ChainMember], mode: str = SERIAL) -> None:
        self.members = members
        self.mode = mode
        self.outstanding = 0
        self._timeouts = 0
        self.ended: Callable[[], Ending | None] | None = self._ending

    @property
    def timeouts(self) -> int:
        """Invocations of this instance that timed out since the controller last checked it; setting it to 0
        (the check) clears the containers' own counts too."""
        return self._timeouts

    @timeouts.setter
    def timeouts(self, value: int) -> None:
        self._timeouts = value
        if value == 0:
            for member in self.members:
                member.client.timeouts = 0

    @property
    def restarts_when_stuck(self) -> bool:
        """Whether every container whose call timed out restarts itself to free the stuck handler (modelyard's
        toolkit), so the instance is given the time such a restart takes to answer /ping again."""
        stuck = [member.client for member in self.members if member.client.timeouts]
        return bool(stuck) and all(getattr(client, "restarts_when_stuck", False) for client in stuck)

    def _ending(self) -> Ending | None:
        for member in self.members:
            probe = member.client.ended
            ending = probe() if probe is not None else None
            if ending is not None:
                return ending
        return None

    def _target(self, invocation: Invocation) -> ChainMember:
        hostname = invocation.target_container if isinstance(invocation, DirectInvocation) else None
        for member in self.members:
            if member.name == hostname:
                return member
        raise LookupError(f"no container named {hostname!r}")

    def _steps(self, invocation: Invocation) -> list[tuple[ChainMember, str | None]]:
        """The containers to call in order, each with the Accept it is sent."""
        if self.mode == DIRECT:
            return [(self._target(invocation), invocation.accept)]
        last = len(self.members) - 1
        return [(member, invocation.accept if index == last else None) for index, member in enumerate(self.members)]

    async def invoke(self, invocation: Invocation, timeout: float) -> ChainReply:
        """Run the invocation through the chain (or its Direct target)."""
        deadline = time.perf_counter() + timeout
        body, content_type = invocation.body, invocation.content_type
        timings: list[tuple[str, float]] = []
        self.outstanding += 1
        try:
            steps = self._steps(invocation)
            for index, (member, accept) in enumerate(steps):
                step = _step(invocation, body, content_type, accept)
                began = time.perf_counter()
                reply = await _within(member, member.client.invoke(step, _left(deadline)))
                timings.append((member.name, time.perf_counter() - began))
                if reply.status >= 400 or index == len(steps) - 1:
                    return _answered(reply, member.name, timings)
                body, content_type = reply.body, reply.content_type
        finally:
            self.outstanding -= 1
        raise AssertionError("a chain has at least one container")

    async def invoke_file(self, invocation: Invocation, body_path: str, reply_path: str,
                          timeout: float) -> ChainReply:
        """The chain over files: each intermediate answer goes to ``<reply_path>.<n>`` and is the next
        container's body; the answer that ends the chain (an error, or the last) lands at ``reply_path``."""
        deadline = time.perf_counter() + timeout
        source, content_type = body_path, invocation.content_type
        timings: list[tuple[str, float]] = []
        self.outstanding += 1
        try:
            steps = self._steps(invocation)
            for index, (member, accept) in enumerate(steps):
                step = _step(invocation, b"", content_type, accept)
                target = reply_path if index == len(steps) - 1 else f"{reply_path}.{index}"
                began = time.perf_counter()
                try:
                    reply = await _within(member, member.client.invoke_file(step, source, target, _left(deadline)))
                finally:
                    if source != body_path:
                        _remove(source)
                timings.append((member.name, time.perf_counter() - began))
                if reply.status >= 400 or index == len(steps) - 1:
                    if target != reply_path:
                        os.replace(target, reply_path)
                    return _answered(reply, member.name, timings)
                source, content_type = target, reply.content_type
        finally:
            self.outstanding -= 1
        raise AssertionError("a chain has at least one container")

    async def invoke_stream(self, invocation: Invocation, timeout: float) -> StreamedReply:
        """Every container but the last answers whole; the last one's answer streams."""
        deadline = time.perf_counter() + timeout
        steps = self._steps(invocation)
        last, accept = steps[-1]
        body, content_type = invocation.body, invocation.content_type
        if len(steps) > 1:
            head = ContainerChain([member for member, _ in steps[:-1]], SERIAL)
            reply = await head.invoke(replace(invocation, accept=None), _left(deadline))
            if reply.status >= 400:
                return StreamedReply(reply.status, reply.content_type, reply.custom_attributes, reply.body)
            body, content_type = reply.body, reply.content_type
        step = _step(invocation, body, content_type, accept)
        return await _within(last, last.client.invoke_stream(step, _left(deadline)))

    async def ping(self, timeout: float) -> bool:
        """Every container answers its health check."""
        answers = await asyncio.gather(*(m.client.ping(timeout) for m in self.members))
        return all(answers)

    async def execution_parameters(self, timeout: float) -> bytes | None:
        """The first container's answer (the one that receives batch transform's records)."""
        return await self.members[0].client.execution_parameters(timeout)

    async def close(self) -> None:
        """Close every container's connections."""
        await asyncio.gather(*(m.client.close() for m in self.members), return_exceptions=True)


async def _within(member: ChainMember, call: Awaitable[T]) -> T:
    try:
        return await call
    except asyncio.TimeoutError:
        member.client.timeouts += 1
        raise ContainerTimeout(member.name) from None


def _step(invocation: Invocation, body: bytes, content_type: str | None, accept: str | None) -> Invocation:
    """What one container of the chain is sent."""
    return Invocation(body, content_type, accept, invocation.custom_attributes, invocation.inference_id,
                      invocation.target_model)


def _answered(reply: Reply, container: str, timings: list[tuple[str, float]]) -> ChainReply:
    return ChainReply(reply.status, reply.body, reply.content_type, reply.custom_attributes, container,
                      tuple(timings))


def _left(deadline: float) -> float:
    return max(deadline - time.perf_counter(), 0.001)


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)
