"""The control plane's admission gate: bounded concurrency and queue, then ThrottlingException;
small bodies decoded on the loop, large ones in the decoder (a worker process by default)."""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from modelyard.edge.admission import AdmissionGate
from modelyard.edge.worker_pool import WorkerPool
from modelyard.wire.errors import ThrottlingException


def _thread_name() -> str:
    return threading.current_thread().name


def test_requests_beyond_concurrency_and_queue_are_throttled() -> None:
    async def scenario() -> list[str]:
        gate = AdmissionGate(concurrency=1, queue=1, decoder=ThreadPoolExecutor(1), offload_bytes=10)
        release = asyncio.Event()
        outcomes: list[str] = []

        async def request(name: str) -> None:
            try:
                async with gate.admitted():
                    outcomes.append(f"{name} runs")
                    await release.wait()
            except ThrottlingException as exc:
                outcomes.append(f"{name} throttled: {exc.message}")

        tasks = [asyncio.create_task(request(name)) for name in ("first", "second", "third")]
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(*tasks)
        return outcomes

    outcomes = asyncio.run(scenario())
    assert outcomes[0] == "first runs"
    assert outcomes[1].startswith("third throttled: Rate exceeded: this server runs 1 requests")
    assert outcomes[2] == "second runs"


def test_small_bodies_decode_on_the_loop_and_large_ones_in_the_decoder() -> None:
    async def scenario(gate: AdmissionGate) -> tuple[str, str]:
        small = await gate.offload(10, _thread_name)
        large = await gate.offload(11, _thread_name)
        return small, large

    with ThreadPoolExecutor(1, thread_name_prefix="decoder") as executor:
        small, large = asyncio.run(scenario(AdmissionGate(2, 2, executor, offload_bytes=10)))
    assert small == "MainThread" and large.startswith("decoder")


@pytest.mark.timeout(60)
def test_the_default_decoder_is_another_process() -> None:
    async def scenario(gate: AdmissionGate) -> int:
        return await gate.offload(11, os.getpid)

    pool = WorkerPool(1)
    try:
        assert asyncio.run(scenario(AdmissionGate(2, 2, pool, offload_bytes=10))) != os.getpid()
    finally:
        pool.shutdown()
