"""Edge contention: InvokeEndpoint throughput alone, then while other clients load the control plane.

    .venv/bin/python bench/edge_contention.py [--dur 8] [--groups 300] [--searchers 8] [--cycles 3]

One server (SQLite) with the scaler model InService; wrk (1 thread, 8 connections) invokes it for
``--dur`` seconds in each phase:

    quiet      nothing else
    big-body   one client looping 14 MB CreateModel bodies (600,000 tag entries: refused, but parsed)
    search     eight clients looping Search over ``--groups`` model package groups

The phases alternate for ``--cycles`` rounds (so a busy neighbour weighs on each phase alike); prints
every phase's invoke rate, its ratio to the quiet rate of the same cycle, what the loaders got (answers
per status), and the medians (the aim is >= 0.80 of quiet). Needs wrk (installed by scripts/setup).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.hosting.models import deploy, scaler_model  # noqa: E402
from tests.support.server import ServerProcess, start_server  # noqa: E402

WRK_SCRIPT = """
wrk.method = "POST"
wrk.path = "/endpoints/bench/invocations"
wrk.body = '{"x": [1, 2, 3]}'
wrk.headers["Content-Type"] = "application/json"
function done(summary, latency, requests)
  io.write(string.format("WRK %.1f %d %d\\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(99), summary.errors.status + summary.errors.timeout + summary.errors.connect))
end
"""


def invoke_rate(server: ServerProcess, seconds: int, script: Path) -> tuple[float, int, int]:
    """Invocations per second, p99 latency (us) and errors over ``seconds`` with wrk."""
    out = subprocess.run(["wrk", "-t1", "-c8", f"-d{seconds}s", "-s", str(script), server.url],
                         capture_output=True, text=True, check=True).stdout
    found = re.search(r"WRK ([\d.]+) (\d+) (\d+)", out)
    if found is None:
        raise RuntimeError(out)
    return float(found.group(1)), int(found.group(2)), int(found.group(3))


class Loader:
    """Threads each looping one request until stopped, counting answers by status."""

    def __init__(self, server: ServerProcess, count: int, target: str, body: Callable[[int], bytes]) -> None:
        self.host, self.port = server.url.removeprefix("http://").split(":")
        self.target, self.body = target, body
        self.statuses: Counter[int] = Counter()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(count)]

    def __enter__(self) -> Loader:
        for thread in self.threads:
            thread.start()
        time.sleep(1.0)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def _loop(self, index: int) -> None:
        body = self.body(index)
        headers = {"X-Amz-Target": self.target, "Content-Type": "application/x-amz-json-1.1"}
        while not self.stop.is_set():
            conn = http.client.HTTPConnection(self.host, int(self.port), timeout=120)
            try:
                while not self.stop.is_set():
                    conn.request("POST", "/", body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    self.statuses[response.status] += 1
            except OSError:
                self.statuses[0] += 1
            finally:
                conn.close()


def big_create_model(_: int) -> bytes:
    """A 14 MB CreateModel body: valid members and 600,000 tags (SageMaker allows 50)."""
    tags = ",".join(['{"Key":"k","Value":"v"}'] * 600_000)
    return (b'{"ModelName":"big","ExecutionRoleArn":"arn:aws:iam::000000000000:role/r",'
            b'"PrimaryContainer":{"Image":"modelyard/python:3.11"},"Tags":[' + tags.encode() + b"]}")


def search_body(_: int) -> bytes:
    """Search every model package group, by a property of each, sorted by name."""
    return json.dumps({"Resource": "ModelPackageGroup", "SortBy": "ModelPackageGroupName",
                       "SearchExpression": {"Filters": [{"Name": "ModelPackageGroupName",
                                                         "Operator": "Contains", "Value": "group"}]},
                       "MaxResults": 100}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dur", type=int, default=8)
    parser.add_argument("--groups", type=int, default=300)
    parser.add_argument("--searchers", type=int, default=8)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a server environment variable, e.g. MODELYARD_CONTROL_CONCURRENCY=2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        work = Path(tmp)
        # wrk and the loaders send unsigned requests: auth off (bench/auth.py measures verification)
        server = start_server(work / "data", env={"MODELYARD_AUTH": "off",
                                                  **dict(kv.split("=", 1) for kv in args.env)})
        try:
            sm = boto3.client("sagemaker", endpoint_url=server.url, region_name="us-east-1",
                              aws_access_key_id="bench", aws_secret_access_key="bench")
            deploy(sm, "bench", f"file://{scaler_model(work / 'model')}")
            for i in range(args.groups):
                sm.create_model_package_group(ModelPackageGroupName=f"group-{i}")
            script = work / "invoke.lua"
            script.write_text(WRK_SCRIPT)
            invoke_rate(server, 2, script)
            print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()}")
            loaders = {"big-body": lambda: Loader(server, 1, "SageMaker.CreateModel", big_create_model),
                       "search": lambda: Loader(server, args.searchers, "SageMaker.Search", search_body)}
            rates: dict[str, list[float]] = {"quiet": [], **{name: [] for name in loaders}}
            for cycle in range(args.cycles):
                quiet = invoke_rate(server, args.dur, script)
                rates["quiet"].append(quiet[0])
                print(f"cycle {cycle} quiet      {quiet[0]:8.1f} invokes/s  p99 {quiet[1] / 1000:7.1f} ms  "
                      f"errors {quiet[2]}")
                for name, make in loaders.items():
                    with make() as loader:
                        rate = invoke_rate(server, args.dur, script)
                    rates[name].append(rate[0])
                    print(f"cycle {cycle} {name:10} {rate[0]:8.1f} invokes/s  p99 {rate[1] / 1000:7.1f} ms  "
                          f"errors {rate[2]}  ratio {rate[0] / quiet[0]:.2f}  loader answers {dict(loader.statuses)}")
            quiet_median = statistics.median(rates["quiet"])
            print("| phase | median invokes/s | ratio to quiet (aim >= 0.80) |\n|---|---|---|")
            for name, values in rates.items():
                median = statistics.median(values)
                print(f"| {name} | {median:,.0f} | {median / quiet_median:.2f} |")
            print(f"load average after: {os.getloadavg()}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
