"""The bring-your-own-image bridge (``toolkit/tcp_bridge.py``): what it costs per request, against the same
HTTP server reached straight over TCP, paired in one run.

    .venv/bin/python bench/tcp_bridge.py [--rounds 3] [--dur 5] [--clients 8]

A bring-your-own image serves HTTP on a port inside its own network namespace; the server reaches it
through the bridge, a unix socket forwarded to that port. Here the port is served by the shared
benchmark's in-process model behind uvicorn (../shared/bench/ceiling.py) and the bridge runs as the
launcher runs it (``python -I tcp_bridge.py SOCKET PORT``). ``--clients`` threads send keep-alive POSTs,
in rotating rounds: through the bridge, and straight to the port (the baseline). Prints requests per
second of each and the bridge's CPU µs per request (utime+stime from /proc, the median of ``--rounds``).
The client is Python, so req/s is the client's ceiling as much as the targets'; the CPU column is the
measure.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from hosting import build_model, wait_http  # noqa: E402
from proc_cpu import ticks  # noqa: E402
from tests.support.server import free_port  # noqa: E402

REQUEST = (b"POST /invocations HTTP/1.1\r\nHost: bench\r\nContent-Type: text/csv\r\nContent-Length: 15\r\n\r\n"
           b"5.1,3.5,1.4,0.2")


def exchange(sock: socket.socket) -> None:
    """One request and its whole answer (the benchmark model answers a JSON object)."""
    sock.sendall(REQUEST)
    data = sock.recv(65536)
    while not data.endswith(b"}"):
        more = sock.recv(65536)
        if not more:
            raise ConnectionError("closed mid-answer")
        data += more
    if not data.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"unexpected answer {data[:80]!r}")


def load(connect: object, clients: int, seconds: float) -> int:
    """Requests completed by ``clients`` threads in ``seconds``, each on one keep-alive connection."""
    done: list[int] = []
    stop = time.monotonic() + seconds

    def client() -> None:
        sock = connect()  # type: ignore[operator]
        count = 0
        with sock:
            while time.monotonic() < stop:
                exchange(sock)
                count += 1
        done.append(count)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dur", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_model(Path(tmp))
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "ceiling:app", "--port", str(port), "--loop", "asyncio",
             "--http", "httptools", "--no-access-log", "--log-level", "warning"],
            cwd=SHARED, env={**os.environ, "MODEL_DIR": str(model_dir)})
        path = str(Path(tmp) / "http.sock")
        bridge = subprocess.Popen([sys.executable, "-I", str(ROOT / "src" / "modelyard" / "toolkit" / "tcp_bridge.py"),
                                   path, str(port)])
        try:
            wait_http(f"http://127.0.0.1:{port}/ping", 60, server)
            while not os.path.exists(path):
                time.sleep(0.05)

            def bridged() -> socket.socket:
                sock = socket.socket(socket.AF_UNIX)
                sock.connect(path)
                return sock

            def straight() -> socket.socket:
                return socket.create_connection(("127.0.0.1", port))

            load(bridged, args.clients, 1.0)
            rates: dict[str, list[float]] = {"bridge": [], "tcp": []}
            cpu: list[float] = []
            for _ in range(args.rounds):
                before = ticks(bridge.pid)[0]
                requests = load(bridged, args.clients, args.dur)
                cpu.append((ticks(bridge.pid)[0] - before) / os.sysconf("SC_CLK_TCK") / requests * 1e6)
                rates["bridge"].append(requests / args.dur)
                rates["tcp"].append(load(straight, args.clients, args.dur) / args.dur)
            print(f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
                  f"{args.clients} clients, median of {args.rounds} rounds of {args.dur:g} s")
            print("| target | req/s | ÷ tcp | bridge CPU µs / request |")
            print("|---|---|---|---|")
            tcp = statistics.median(rates["tcp"])
            print(f"| tcp (straight to the port) | {tcp:,.0f} | 1.00 | |")
            bridge_rate = statistics.median(rates["bridge"])
            print(f"| bridge (unix socket → port) | {bridge_rate:,.0f} | {bridge_rate / tcp:.2f} | "
                  f"{statistics.median(cpu):.1f} |")
        finally:
            bridge.kill()
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
