"""Toolkit frame benchmark: request/response round trips per second over ONE unix-socket connection
against a trivial model (``transform_fn`` echoing the body), measured with a blocking socket client
and with the asyncio ``framing.call`` helper; optionally against the worker pool too.

    .venv/bin/python bench/toolkit_frames.py [--seconds 3] [--body 64] [--workers 1] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from tests.toolkit.support import Client, start, write_model  # noqa: E402

from modelyard.toolkit import framing  # noqa: E402

ECHO = """
def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    return body, "application/octet-stream"
"""


def blocking_rate(path: str, body: bytes, seconds: float) -> float:
    """Round trips per second with a blocking socket client."""
    client = Client(path)
    frame = framing.encode_frame(framing.request_header("invoke", "application/octet-stream"), body)
    count, stop = 0, time.perf_counter() + seconds
    while time.perf_counter() < stop:
        for _ in range(100):
            client.send_raw(frame)
            header, _ = client.read_frame()  # type: ignore[misc]
            assert header["status"] == 200
        count += 100
    client.close()
    return count / seconds


def asyncio_rate(path: str, body: bytes, seconds: float) -> float:
    """Round trips per second with ``framing.call`` on one connection."""
    async def run() -> float:
        reader, writer = await asyncio.open_unix_connection(path)
        header = framing.request_header("invoke", "application/octet-stream")
        count, stop = 0, time.perf_counter() + seconds
        while time.perf_counter() < stop:
            for _ in range(100):
                answer, _ = await framing.call(reader, writer, header, body)
                assert answer["status"] == 200
            count += 100
        writer.close()
        return count / seconds

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--body", type=int, default=64, help="request body size in bytes")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    body = b"x" * args.body
    with tempfile.TemporaryDirectory() as tmp:
        toolkit = start(write_model(Path(tmp), {"inference.py": ECHO}),
                        env={"SAGEMAKER_MODEL_SERVER_WORKERS": str(args.workers)})
        try:
            blocking_rate(toolkit.socket_path, body, 0.3)
            results = {"workers": args.workers, "body_bytes": args.body,
                       "blocking_rt_per_s": round(blocking_rate(toolkit.socket_path, body, args.seconds)),
                       "asyncio_rt_per_s": round(asyncio_rate(toolkit.socket_path, body, args.seconds))}
        finally:
            toolkit.close()
    if args.json:
        print(json.dumps(results))
        return
    for key in ("blocking", "asyncio"):
        rate = results[f"{key}_rt_per_s"]
        print(f"{key:>9} client: {rate:>8,} round trips/s  ({1e6 / rate:6.1f} µs each, "
              f"workers={args.workers}, body={args.body} B)")


if __name__ == "__main__":
    main()
