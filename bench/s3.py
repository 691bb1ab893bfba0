"""PUT and GET throughput of 1 MB and 100 MB objects through boto3: modelyard's own S3, moto's standalone
server, and a plain file copy on the same disk (the limit), paired in one run.

    .venv/bin/python bench/s3.py [--rounds 3] [--sizes 1,100]

Every row is printed (MB/s, best of the rounds), then modelyard's rate as a share of the file copy and
as a multiple of moto's. Aims: >= 50 % of the file copy at 100 MB, >= 3x moto.

A "null S3" row (``bench/null_s3.py``: a server that stores, checks and hashes nothing) is the ceiling
boto3 itself allows on this machine; the last table puts modelyard's rates against it.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.proc_cpu import TICK, ticks  # noqa: E402
from tests.support.moto_s3 import start_moto_s3  # noqa: E402
from tests.support.server import free_port, start_server  # noqa: E402

MB = 1024 * 1024
TRANSFER = TransferConfig(multipart_threshold=8 * MB, multipart_chunksize=8 * MB, max_concurrency=4)


def best_rate(size: int, rounds: int, run: Callable[[], None]) -> float:
    """MB/s of the fastest of ``rounds`` runs."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return size / MB / best


def cpu_seconds(pid: int | None) -> float:
    """CPU seconds (user + system, all threads) of process ``pid``, or of this process (the client)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    return ticks(pid)[0] / TICK


def s3_rates(client: Any, bucket: str, source: Path, target: Path, rounds: int,
             server_pid: int) -> tuple[tuple[float, float], tuple[float, ...]]:
    """(PUT, GET) MB/s of ``source`` through boto3's transfer manager, and the CPU ms per MB the server
    and the client spent on them (PUT server, PUT client, GET server, GET client)."""
    size = source.stat().st_size
    key = f"bench/{source.name}"
    megabytes = size / MB * rounds
    cpu: list[float] = []

    def measured(run: Callable[[], None]) -> float:
        before = cpu_seconds(server_pid), cpu_seconds(None)
        rate = best_rate(size, rounds, run)
        cpu.extend([(cpu_seconds(server_pid) - before[0]) * 1000 / megabytes,
                    (cpu_seconds(None) - before[1]) * 1000 / megabytes])
        return rate

    put = measured(lambda: client.upload_file(str(source), bucket, key, Config=TRANSFER))
    get = measured(lambda: client.download_file(bucket, key, str(target), Config=TRANSFER))
    assert target.stat().st_size == size
    return (put, get), tuple(cpu)


def copy_rates(source: Path, workdir: Path, rounds: int) -> tuple[float, float]:
    """(write, read) MB/s of a plain file copy on the same disk."""
    size = source.stat().st_size
    copy = workdir / f"copy-{source.name}"
    write = best_rate(size, rounds, lambda: shutil.copyfile(source, copy))
    back = workdir / f"back-{source.name}"
    read = best_rate(size, rounds, lambda: shutil.copyfile(copy, back))
    return write, read


def start_null_s3() -> tuple[subprocess.Popen[bytes], str]:
    """bench/null_s3.py on a free port, once it answers."""
    port = free_port()
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("null_s3.py")), str(port)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/ping", timeout=1).close()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("bench/null_s3.py did not start")


def main() -> int:
    """Run every pairing and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="1,100", help="object sizes in MB, comma-separated")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="bench-s3-", dir="/var/tmp"))
    server = start_server(workdir / "modelyard", env={"AWS_ENDPOINT_URL_S3": ""})
    moto = start_moto_s3(log_dir=workdir / "moto")
    null, null_url = start_null_s3()
    config = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})
    clients = {
        "modelyard": boto3.client("s3", endpoint_url=server.url, region_name="us-east-1", config=config,
                                  **server.credentials),
        "moto": moto.client(config=config),
        "null S3": boto3.client("s3", endpoint_url=null_url, region_name="us-east-1", config=config,
                                aws_access_key_id="null", aws_secret_access_key="null"),
    }
    print(f"cores: {os.cpu_count()}  load at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    pids = {"modelyard": server.process.pid, "moto": moto.process.pid, "null S3": null.pid}
    rows: dict[tuple[str, int], tuple[float, float]] = {}
    cpu: dict[tuple[str, int], tuple[float, ...]] = {}
    try:
        for client in clients.values():
            client.create_bucket(Bucket="bench")
        for size in sizes:
            source = workdir / f"object-{size}mb.bin"
            with open(source, "wb") as out:
                for _ in range(size):
                    out.write(os.urandom(MB))
            rows[("file copy", size)] = copy_rates(source, workdir, args.rounds)
            for name, client in clients.items():
                out = workdir / f"{name}-{size}.out"
                rows[(name, size)], cpu[(name, size)] = s3_rates(client, "bench", source, out, args.rounds, pids[name])
    finally:
        server.stop()
        moto.stop()
        null.terminate()
        null.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{'target':<12} {'size':>6} {'PUT MB/s':>10} {'GET MB/s':>10}")
    for (name, size), (put, get) in rows.items():
        print(f"{name:<12} {size:>4}MB {put:>10.1f} {get:>10.1f}")
    print()
    print(f"{'size':>6} {'PUT/copy':>9} {'GET/copy':>9} {'PUT/moto':>9} {'GET/moto':>9}")
    for size in sizes:
        put, get = rows[("modelyard", size)]
        copy_put, copy_get = rows[("file copy", size)]
        moto_put, moto_get = rows[("moto", size)]
        print(f"{size:>4}MB {put / copy_put:>8.0%} {get / copy_get:>8.0%} {put / moto_put:>8.1f}x "
              f"{get / moto_get:>8.1f}x")
    print()
    print(f"{'size':>6} {'PUT/null':>9} {'GET/null':>9}   (modelyard's share of boto3's own ceiling)")
    for size in sizes:
        put, get = rows[("modelyard", size)]
        null_put, null_get = rows[("null S3", size)]
        print(f"{size:>4}MB {put / null_put:>8.0%} {get / null_get:>8.0%}")
    print()
    print("CPU ms per MB over all rounds (clock ticks of 10 ms: coarse for 1 MB; barely moved by load, unlike MB/s)")
    print(f"{'target':<12} {'size':>6} {'PUT server':>11} {'PUT client':>11} {'GET server':>11} {'GET client':>11}")
    for (name, size), (put_server, put_client, get_server, get_client) in cpu.items():
        print(f"{name:<12} {size:>4}MB {put_server:>11.2f} {put_client:>11.2f} {get_server:>11.2f} {get_client:>11.2f}")
    print(f"cores: {os.cpu_count()}  load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
