"""The toolkit's own CPU per framed invocation, in process: the real frame protocol, service, handler
thread and handler over a fake transport; no socket, no router.

    .venv/bin/python bench/toolkit_loop.py [--requests 20000] [--rounds 5] [--profile N]

Serves the shared benchmark model (../shared/bench: numpy's linear classifier) and prints CPU µs per
request (``time.process_time`` of the whole process, both threads; the median of ``--rounds``), and the
same model's four hooks called directly (what the user's code costs by itself), so the toolkit's share is
the difference. ``--profile N`` prints the N costliest functions (the loop thread only: cProfile does
not follow the handler thread).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
sys.path.insert(0, str(ROOT / "src"))

from modelyard.toolkit import framing  # noqa: E402
from modelyard.toolkit.environment import ToolkitSettings  # noqa: E402
from modelyard.toolkit.frame_server import FrameProtocol  # noqa: E402
from modelyard.toolkit.handler import Handler  # noqa: E402
from modelyard.toolkit.routes import Service  # noqa: E402
from modelyard.toolkit.runner import HandlerThread  # noqa: E402

FRAME = framing.encode_frame(framing.request_header(framing.OP_INVOKE, "text/csv"), b"5.1,3.5,1.4,0.2")


class Transport(asyncio.Transport):
    """Wakes the waiting request when a frame is written."""

    def __init__(self) -> None:
        super().__init__()
        self.done: asyncio.Future[bytes] | None = None

    def write(self, data: Any) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(bytes(data))

    def writelines(self, parts: Any) -> None:
        self.write(b"".join(parts))

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


async def run(service: Service, requests: int) -> float:
    """CPU µs per request over ``requests`` frames on one connection."""
    loop = asyncio.get_running_loop()
    protocol = FrameProtocol(service, loop)
    transport = Transport()
    protocol.connection_made(transport)
    started = time.process_time()
    for _ in range(requests):
        transport.done = loop.create_future()
        protocol.data_received(FRAME)
        answer = await transport.done
    spent = time.process_time() - started
    assert b"predictions" in answer, answer
    return spent / requests * 1e6


def hooks_alone(handler: Handler, requests: int) -> float:
    """CPU µs per call of the model's own input_fn, predict_fn and output_fn."""
    module = sys.modules[handler.settings.module_name]
    model = handler.model
    started = time.process_time()
    for _ in range(requests):
        module.output_fn(module.predict_fn(module.input_fn("5.1,3.5,1.4,0.2", "text/csv"), model), "application/json")
    return (time.process_time() - started) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, str(SHARED / "build_model.py"), tmp], check=True, capture_output=True)
        model_dir = os.path.join(tmp, "model")
        settings = ToolkitSettings.from_environ({"SAGEMAKER_MODEL_DIR": model_dir})
        runner = HandlerThread()
        handler = runner.call(Handler.from_settings, settings)
        runner.call(handler.load)
        service = Service(handler, runner)

        async def measure() -> None:
            await run(service, 2000)
            served = [await run(service, args.requests) for _ in range(args.rounds)]
            alone = [hooks_alone(handler, args.requests) for _ in range(args.rounds)]
            print(f"toolkit CPU per framed invoke, in process (median of {args.rounds} rounds of {args.requests}): "
                  f"{statistics.median(served):.1f} µs, of which the model's hooks alone "
                  f"{statistics.median(alone):.1f} µs")
            if args.profile:
                profile = cProfile.Profile()
                profile.enable()
                await run(service, args.requests)
                profile.disable()
                pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)

        asyncio.run(measure())
        runner.stop()


if __name__ == "__main__":
    main()
