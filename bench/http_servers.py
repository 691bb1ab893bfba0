"""The bare HTTP servers' own CPU per request: what answering one small POST costs before any work, for the
servers #15 names as ways to a cheaper edge, paired in one run.

    .venv/bin/python bench/http_servers.py [--rounds 3] [--dur 5]

Targets, each serving one app that reads the body and answers a fixed 27-byte JSON, one process on
uvloop: ``uvicorn`` (httptools, the server modelyard's edge is built on, from the project's venv),
``granian-rsgi`` and ``granian-asgi`` (granian's Rust HTTP server calling Python through its RSGI and
ASGI interfaces, one runtime thread; from a tool venv, bench/tool_venv.py). wrk (one thread, c=8, the shared
post.lua) drives each for ``--dur`` seconds after a 2 s warm-up, the targets rotating each round; CPU µs
per request is the server's utime+stime (every thread, and granian's worker process) over the requests
wrk completed.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proc_cpu import TICK, descendants, ticks, wrk  # noqa: E402
from tool_venv import tool_python  # noqa: E402

BODY = "5.1,3.5,1.4,0.2"
GRANIAN = ("granian==2.8.9", "uvloop==0.23.0")
APPS = '''
BODY = b'{"predictions": ["setosa"]}'


class RSGIApp:
    async def __rsgi__(self, scope, proto):
        await proto()
        proto.response_bytes(200, [("content-type", "application/json")], BODY)


rsgi = RSGIApp()


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})
'''


def command(target: str, port: int, granian: Path) -> list[str]:
    """The command line that serves ``target`` on ``port``."""
    address = ["--host", "127.0.0.1", "--port", str(port)]
    if target == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "apps:asgi", "--loop", "uvloop", "--http", "httptools",
                "--no-access-log", "--log-level", "warning", *address]
    interface = target.removeprefix("granian-")
    return [str(granian), "-m", "granian", "--interface", interface, "--workers", "1", "--runtime-threads", "1",
            "--loop", "uvloop", "--http", "1", "--no-ws", "--log-level", "warning", *address, f"apps:{interface}"]


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_ticks(root: int) -> int:
    """CPU clock ticks of the server process and every process below it (granian runs a worker process)."""
    return sum(ticks(pid)[0] for pid in (root, *descendants(root)))


def measure(target: str, apps: Path, granian: Path, seconds: int) -> tuple[float, float]:
    """(requests per second, server CPU µs per request) of one round of ``target``."""
    port = free_port()
    server = subprocess.Popen(command(target, port, granian), cwd=apps, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"{target} did not start") from None
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/invocations"
        wrk(url, 8, 2, BODY, "text/csv")
        before = server_ticks(server.pid)
        result = wrk(url, 8, seconds, BODY, "text/csv")
        used = (server_ticks(server.pid) - before) / TICK
        return result["rps"], used / result["requests"] * 1e6
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dur", type=int, default=5)
    args = parser.parse_args()
    granian = tool_python("venv-http-servers", GRANIAN)
    targets = ("uvicorn", "granian-rsgi", "granian-asgi")
    results: dict[str, list[tuple[float, float]]] = {target: [] for target in targets}
    print(f"cores {len(os.sched_getaffinity(0))}, load {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "apps.py").write_text(APPS)
        for round_ in range(args.rounds):
            for target in targets[round_ % len(targets):] + targets[:round_ % len(targets)]:
                rate, cpu = measure(target, Path(tmp), granian, args.dur)
                results[target].append((rate, cpu))
                print(f"round {round_}: {target} {rate:,.0f} req/s, {cpu:.1f} µs CPU per request", flush=True)
    print("| server | c=8 req/s (median) | CPU µs per request (median) | ÷ uvicorn |")
    print("|---|---|---|---|")
    reference = statistics.median(cpu for _, cpu in results["uvicorn"])
    for target in targets:
        cpu = statistics.median(c for _, c in results[target])
        rate = statistics.median(r for r, _ in results[target])
        print(f"| {target} | {rate:,.0f} | {cpu:.1f} | {cpu / reference:.2f} |")
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
