"""The server's own CPU per InvokeEndpoint, in process: no sockets, no toolkit, no load generator.

    .venv/bin/python bench/edge_loop.py [--requests 20000] [--rounds 5] [--profile N]

Builds the real application (``build_app``, auth off, a temporary data dir), publishes an endpoint
whose one instance answers at once (``InstantInstance``: what the toolkit would answer, without the
unix socket), and feeds raw HTTP requests to the real guarded httptools protocol over a fake
transport on uvloop, one request in flight. Prints CPU µs per request (``time.process_time``, the
median of ``--rounds``) through the ASGI path and through the lean path (``edge.lean_invoke``),
paired. What the socket hop to the toolkit adds is bench/hosting.py's to measure. ``--profile N``
prints the N costliest functions of the lean path under cProfile.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import uvloop  # noqa: E402
from uvicorn.config import Config  # noqa: E402
from uvicorn.server import ServerState  # noqa: E402

from modelyard.app import build_app  # noqa: E402
from modelyard.edge.connections import guarded_protocol  # noqa: E402
from modelyard.edge.lean_invoke import LeanInvocations  # noqa: E402
from modelyard.edge.pipeline import Pipeline  # noqa: E402
from modelyard.hosting.instances import Invocation, Reply  # noqa: E402
from modelyard.hosting.invoke import InvokeEndpoint  # noqa: E402
from modelyard.hosting.router import EndpointRoutes, VariantRoutes  # noqa: E402
from modelyard.settings import Settings  # noqa: E402

REQUEST = (b"POST /endpoints/bench/invocations HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: text/csv\r\n"
           b"Content-Length: 15\r\n\r\n5.1,3.5,1.4,0.2")
ANSWER = Reply(200, b'{"predictions": [1]}', "application/json")


class InstantInstance:
    """An instance that answers every invocation at once, as the benchmark model would."""

    outstanding = 0
    timeouts = 0
    ended = None

    async def invoke(self, invocation: Invocation, timeout: float) -> Reply:
        """The model's answer."""
        return ANSWER


class Transport(asyncio.Transport):
    """Collects what the protocol writes; a complete response wakes the waiting request."""

    def __init__(self) -> None:
        super().__init__()
        self.done: asyncio.Future[bytes] | None = None
        self.closing = False

    def write(self, data: Any) -> None:
        if self.done is not None and not self.done.done() and bytes(data).rstrip().endswith(b"}"):
            self.done.set_result(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def run(app: Any, lean: LeanInvocations | None, settings: Settings, requests: int) -> float:
    """CPU µs per request over ``requests`` requests on one keep-alive connection."""
    config = Config(app, lifespan="off", log_level="warning")
    config.load()
    protocol_class = guarded_protocol(settings.edge, 1000, lean)
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={},
                              _loop=asyncio.get_running_loop())
    transport = Transport()
    protocol.connection_made(transport)
    loop = asyncio.get_running_loop()
    started = time.process_time()
    for _ in range(requests):
        transport.done = loop.create_future()
        protocol.data_received(REQUEST)
        answer = await transport.done
    spent = time.process_time() - started
    assert b"predictions" in answer, answer
    protocol.connection_lost(None)
    return spent / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--callers", default="", help="with --profile: print the callers of functions matching this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), auth=False)
        app = build_app(settings)
        pipeline = app.handle
        assert isinstance(pipeline, Pipeline)
        runtime = next(s for s in pipeline.services.services if s.name == "sagemaker-runtime")
        invoke = runtime.operations["InvokeEndpoint"]
        assert isinstance(invoke, InvokeEndpoint)
        invoke.router.publish(settings.account_id, settings.default_region, EndpointRoutes(
            "bench", "arn:aws:sagemaker:us-east-1:000000000000:endpoint/bench", "log-group",
            {"AllTraffic": VariantRoutes("AllTraffic", 1.0, [InstantInstance()])}))
        lean = LeanInvocations(pipeline)

        async def measure() -> None:
            await run(app, None, settings, 2000)
            await run(app, lean, settings, 2000)
            asgi, fast = [], []
            for _ in range(args.rounds):
                asgi.append(await run(app, None, settings, args.requests))
                fast.append(await run(app, lean, settings, args.requests))
            print(f"server CPU per invoke, in process (median of {args.rounds} rounds of {args.requests}):")
            print(f"  ASGI path: {statistics.median(asgi):.1f} µs   lean path: {statistics.median(fast):.1f} µs")
            if args.profile:
                profile = cProfile.Profile()
                profile.enable()
                await run(app, lean, settings, args.requests)
                profile.disable()
                stats = pstats.Stats(profile).sort_stats("tottime")
                stats.print_stats(args.profile)
                if args.callers:
                    stats.print_callers(args.callers)

        uvloop.run(measure())


if __name__ == "__main__":
    main()
