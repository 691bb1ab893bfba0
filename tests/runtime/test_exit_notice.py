"""ExitNotice: a process's end reaches the loop through its pidfd, and asking costs no system call."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Iterator

from modelyard.runtime.exit_notice import ExitNotice


async def _until(condition, seconds: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


@contextlib.contextmanager
def _sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_the_end_of_a_process_is_noticed_on_the_loop() -> None:
    async def scenario() -> None:
        with _sleeper() as process:
            notice = ExitNotice.watch(process.pid)
            assert notice is not None
            await asyncio.sleep(0.05)
            assert not notice.ended
            process.kill()
            assert await _until(lambda: notice.ended)
            notice.close()
            assert notice.ended

    asyncio.run(scenario())


def test_a_process_that_exits_by_itself_is_noticed_and_stays_reapable() -> None:
    async def scenario() -> None:
        process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
        notice = ExitNotice.watch(process.pid)
        assert notice is not None
        assert await _until(lambda: notice.ended)
        assert process.wait(5) == 3

    asyncio.run(scenario())


def test_a_pid_that_is_gone_gives_no_notice() -> None:
    async def scenario() -> None:
        process = subprocess.Popen([sys.executable, "-c", "pass"])
        process.wait()
        assert ExitNotice.watch(process.pid) is None

    asyncio.run(scenario())


def test_closing_stops_the_watch_without_marking_an_end() -> None:
    async def scenario() -> None:
        with _sleeper() as process:
            notice = ExitNotice.watch(process.pid)
            assert notice is not None
            notice.close()
            notice.close()
            process.kill()
            process.wait()
            await asyncio.sleep(0.05)
            assert not notice.ended

    asyncio.run(scenario())
