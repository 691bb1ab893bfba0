"""The toolkit's own CPU per framed invocation, in process: the real frame protocol, service, handler
thread and handler, fed over a real socketpair by a client in another process (not counted); no router.

    .venv/bin/python bench/toolkit_loop.py [--requests 20000] [--rounds 5] [--profile N] [--batch N]

Serves the shared benchmark model (../shared/bench: numpy's linear classifier) and prints CPU µs per
request (``time.process_time`` of the whole process, both threads; the median of ``--rounds``), and the
same model's four hooks called directly (what the user's code costs by itself), so the toolkit's share is
the difference. ``--profile N`` prints the N costliest functions of the loop thread and of the handler thread.
``--batch N`` sends N requests per ``invoke-batch`` frame (what batch transform does under SingleRecord).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import socket
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
from modelyard.toolkit.buffered_reads import BufferedReads  # noqa: E402
from modelyard.toolkit.environment import ToolkitSettings  # noqa: E402
from modelyard.toolkit.frame_server import FrameProtocol  # noqa: E402
from modelyard.toolkit.handler import Handler  # noqa: E402
from modelyard.toolkit.pool import WorkerPool  # noqa: E402
from modelyard.toolkit.routes import Service  # noqa: E402
from modelyard.toolkit.runner import HandlerThread  # noqa: E402

RECORD = b"5.1,3.5,1.4,0.2"
FRAME = framing.encode_frame(framing.request_header(framing.OP_INVOKE, "text/csv"), RECORD)


def batch_frame(records: int) -> bytes:
    """One ``invoke-batch`` frame of ``records`` copies of the benchmark row."""
    header = {**framing.request_header(framing.OP_INVOKE_BATCH, "text/csv"), "lengths": [len(RECORD)] * records}
    return framing.encode_frame(header, RECORD * records)


CLIENT = """
import socket, sys
if sys.argv[1].isdigit():
    sock = socket.socket(fileno=int(sys.argv[1]))
else:
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(sys.argv[1])
frame = bytes.fromhex(sys.argv[3])
answer = b""
for _ in range(int(sys.argv[2])):
    sock.sendall(frame)
    while True:
        if len(answer) >= 8:
            size = 8 + int.from_bytes(answer[:4], "big") + int.from_bytes(answer[4:8], "big")
            if len(answer) >= size:
                answer = answer[size:]
                break
        answer += sock.recv(65536)
sock.sendall(b"done")
"""


def worker_ticks() -> int:
    """utime+stime of this process's pool workers, in clock ticks."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if "modelyard.toolkit worker" not in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                    continue
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid():
                total += int(fields[11]) + int(fields[12])
    return total


async def run(service: Any, requests: int, frame: bytes = FRAME, per_frame: int = 1) -> float:
    """CPU µs per request of this process (and its pool workers) over ``requests`` frames sent one at a time
    on one connection by a client process (whose start-up is in the count, a millisecond or so over the
    whole round). ``service`` is a ``Service`` served here, or the path of a pool's listening socket; ``frame``
    carries ``per_frame`` requests (an ``invoke-batch`` frame when more than one)."""
    requests //= per_frame
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()
    started, workers = time.process_time(), worker_ticks()
    if isinstance(service, str):
        feeder = subprocess.Popen([sys.executable, "-c", CLIENT, service, str(requests), frame.hex()])
        await asyncio.get_running_loop().run_in_executor(None, feeder.wait)
    else:
        server, remote = socket.socketpair()

        class Counting(FrameProtocol):
            def data_received(self, data: bytes) -> None:
                if data == b"done":
                    finished.set_result(None)
                    return
                super().data_received(data)

        await loop.connect_accepted_socket(lambda: BufferedReads(Counting(service, loop)), server)
        feeder = subprocess.Popen([sys.executable, "-c", CLIENT, str(remote.fileno()), str(requests),
                                   frame.hex()], pass_fds=(remote.fileno(),))
        remote.close()
        await finished
    spent = time.process_time() - started + (worker_ticks() - workers) / os.sysconf("SC_CLK_TCK")
    feeder.wait()
    return spent / (requests * per_frame) * 1e6


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
    parser.add_argument("--loop-replies", action="store_true",
                        help="answer through the event loop (call_soon_threadsafe), as before direct replies")
    parser.add_argument("--batch", type=int, default=1,
                        help="requests per frame: above 1, invoke-batch frames (batch transform's SingleRecord)")
    parser.add_argument("--workers", type=int, default=1,
                        help="SAGEMAKER_MODEL_SERVER_WORKERS: above 1, the worker pool (workers' CPU counted)")
    args = parser.parse_args()
    if args.loop_replies:
        FrameProtocol._reply = lambda self, response: False  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, str(SHARED / "build_model.py"), tmp], check=True, capture_output=True)
        model_dir = os.path.join(tmp, "model")
        os.environ.update(SAGEMAKER_MODEL_DIR=model_dir, SAGEMAKER_MODEL_SERVER_WORKERS=str(args.workers))
        os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(SHARED)])
        settings = ToolkitSettings.from_environ()
        runner = HandlerThread()
        handler = runner.call(Handler.from_settings, settings)
        runner.call(handler.load)

        async def measure() -> None:
            service: Any = Service(handler, runner)
            pool = None
            if args.workers > 1:
                pool = WorkerPool(settings, asyncio.get_running_loop())
                assert await pool.start() is None
                service = os.path.join(tmp, "toolkit.sock")
                listener = socket.socket(socket.AF_UNIX)
                listener.bind(service)
                listener.listen(64)
                listener.setblocking(False)
                pool.serve(listener, None)
            shape = (batch_frame(args.batch), args.batch) if args.batch > 1 else (FRAME, 1)
            await run(service, 1000, *shape)
            served = [await run(service, args.requests, *shape) for _ in range(args.rounds)]
            alone = [hooks_alone(handler, args.requests) for _ in range(args.rounds)]
            print(f"toolkit CPU per framed invoke, in process (median of {args.rounds} rounds of {args.requests}): "
                  f"{statistics.median(served):.1f} µs, of which the model's hooks alone "
                  f"{statistics.median(alone):.1f} µs")
            if args.profile:
                profile, on_handler = cProfile.Profile(), cProfile.Profile()
                runner.call(on_handler.enable)
                profile.enable()
                await run(service, args.requests, *shape)
                profile.disable()
                runner.call(on_handler.disable)
                print("event loop thread:")
                pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)
                print("handler thread:")
                pstats.Stats(on_handler).sort_stats("tottime").print_stats(args.profile)
            if pool is not None:
                await pool.stop()

        asyncio.run(measure())
        runner.stop()


if __name__ == "__main__":
    main()
