"""What data capture costs InvokeEndpoint's handler on the event loop, without HTTP or a model.

    .venv/bin/python bench/capture_hot_path.py [--calls 200000]
    PYTHONPATH=<other checkout>/src python bench/capture_hot_path.py --off-only   # the same, for a branch
                                                                                  # without capture

The handler (``hosting.invoke.InvokeEndpoint``) is awaited against an instance that answers at once,
so the numbers are the handler's own CPU microseconds per call (process time, which includes the
draining thread's and is less disturbed by other processes than wall time): capture off (no DataCaptureConfig) and
capture at 100 % (sample, build the event, queue it; a thread drains the queue as the writer does,
without writing files). Paired: the two alternate in rounds and the median round is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from types import SimpleNamespace
from typing import Any

from modelyard.hosting.instances import Invocation, Reply
from modelyard.hosting.invoke import InvokeEndpoint
from modelyard.hosting.router import EndpointRoutes, Router, VariantRoutes
from modelyard.settings import Limits

BODY = b"5.1,3.5,1.4,0.2"


class InstantInstance:
    """An instance that answers every call at once."""

    outstanding = 0

    async def invoke(self, invocation: Invocation, timeout: float) -> Reply:
        return Reply(200, b"[0.1, 0.2, 0.7]", "application/json")


def routes(name: str) -> EndpointRoutes:
    return EndpointRoutes(name, f"arn:{name}", "arn:logs", {"AllTraffic": VariantRoutes("AllTraffic", 1.0,
                                                                                      [InstantInstance()])})  # type: ignore[list-item]


async def rate(handler: InvokeEndpoint, name: str, calls: int) -> float:
    ctx: Any = SimpleNamespace(account="000000000000", region="us-east-1")
    params = {"EndpointName": name, "Body": BODY, "ContentType": "text/csv", "InferenceId": "bench"}
    started = time.process_time()
    for _ in range(calls):
        await handler(ctx, params)
    return (time.process_time() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--off-only", action="store_true", help="for a checkout without data capture")
    args = parser.parse_args()
    router = Router()
    router.publish("000000000000", "us-east-1", routes("off"))
    names = ["off"]
    stop = threading.Event()
    if not args.off_only:
        from modelyard.hosting.capture.sink import CaptureSink

        sink = CaptureSink(100, max_records=10_000, max_bytes=64 << 20)
        captured = routes("capture100")
        captured.capture = sink
        router.publish("000000000000", "us-east-1", captured)
        names.append("capture100")

        def drain() -> None:
            while not stop.wait(0.2):
                sink.take()

        threading.Thread(target=drain, daemon=True).start()
    handler = InvokeEndpoint(router, Limits())
    results: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            results[name].append(asyncio.run(rate(handler, name, args.calls)))
    stop.set()
    for name in names:
        print(f"{name}: {statistics.median(results[name]):.2f} µs per call (median of {args.rounds} rounds)")


if __name__ == "__main__":
    main()
