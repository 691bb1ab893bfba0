"""``Deadline``: one timer per owner, whatever the number of moves, and never late or early."""

from __future__ import annotations

import asyncio

import pytest

from modelyard.deadline import Deadline


class CountingLoop:
    """The running loop, counting the timers asked of it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.timers = 0

    def time(self) -> float:
        return self.loop.time()

    def call_at(self, when: float, callback: object) -> asyncio.TimerHandle:
        self.timers += 1
        return self.loop.call_at(when, callback)  # type: ignore[arg-type]


def run(test: object) -> None:
    asyncio.run(test())  # type: ignore[operator]


def test_moving_the_deadline_later_makes_no_new_timer_and_it_expires_at_the_last_setting() -> None:
    async def test() -> None:
        loop = asyncio.get_running_loop()
        counting, expired = CountingLoop(loop), []
        deadline = Deadline(counting, lambda: expired.append(loop.time()))  # type: ignore[arg-type]
        start = loop.time()
        for _ in range(100):
            deadline.set(0.05)
        assert counting.timers == 1
        await asyncio.sleep(0.02)
        deadline.set(0.1)
        await asyncio.sleep(0.2)
        assert len(expired) == 1
        assert expired[0] - start >= 0.02 + 0.1 - 0.002
        assert counting.timers == 2  # the first timer fired early once and re-armed for what remained
        assert deadline.at is None

    run(test)


def test_moving_the_deadline_earlier_expires_at_the_earlier_time() -> None:
    async def test() -> None:
        loop = asyncio.get_running_loop()
        expired: list[float] = []
        deadline = Deadline(loop, lambda: expired.append(loop.time()))
        start = loop.time()
        deadline.set(10.0)
        deadline.set(0.05)
        await asyncio.sleep(0.15)
        assert len(expired) == 1 and 0.05 - 0.002 <= expired[0] - start < 1.0

    run(test)


@pytest.mark.parametrize("how", ["clear", "close"])
def test_a_cleared_deadline_never_expires_until_set_again(how: str) -> None:
    async def test() -> None:
        loop = asyncio.get_running_loop()
        expired: list[float] = []
        deadline = Deadline(loop, lambda: expired.append(loop.time()))
        deadline.set(0.03)
        getattr(deadline, how)()
        await asyncio.sleep(0.08)
        assert expired == []
        deadline.set(0.03)
        await asyncio.sleep(0.08)
        assert len(expired) == 1

    run(test)
