"""Serverless benchmark: cold start with the environment cached, and warm invocations against a
real-time endpoint on the same model, paired in one run.

    .venv/bin/python bench/serverless.py [--starts 10] [--cycles 3] [--dur 5] [--warmup 5]

One server (auth off, as wrk does not sign; idle time 0.3 s; one serverless instance at most so both
endpoints run one instance) serves the shared benchmark model twice: ``realtime`` (ml.m5.large × 1)
and ``serverless`` (MaxConcurrency 8). Cold start: the serverless endpoint is left idle until its
instance has stopped, then one call is timed to its answer, ``--starts`` times (aim: p50 < 1 s).
Warm: paired wrk cycles by ../shared/bench/compare.py, realtime first (aim: serverless within 10 %).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hosting import IMAGE, ROOT, build_model, compare, deploy, sagemaker_client  # noqa: E402

sys.path.insert(0, str(ROOT))
from tests.support.server import start_server  # noqa: E402

BODY = b"5.1,3.5,1.4,0.2"


def deploy_serverless(sm, name: str, data: str) -> None:  # type: ignore[no-untyped-def]
    sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::000000000000:role/bench",
                    PrimaryContainer={"Image": IMAGE, "ModelDataUrl": data})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name,
         "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 8}}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] != "InService":
        time.sleep(0.05)


def instance_running(name: str) -> bool:
    marker = f"MODELYARD_ENDPOINT={name}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    return True
            except OSError:
                continue
    return False


def cold_start(url: str, name: str) -> float:
    """Wait until the endpoint holds no process, then time one call to its answer."""
    while instance_running(name):
        time.sleep(0.05)
    request = urllib.request.Request(url, data=BODY, headers={"Content-Type": "text/csv"}, method="POST")
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--dur", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        work = Path(tmp)
        build_model(work / "bm")
        data = f"file://{work / 'bm' / 'model.tar.gz'}"
        server = start_server(work / "data", env={"MODELYARD_AUTH": "off", "MODELYARD_SERVERLESS_IDLE_SECONDS": "0.3",
                                                  "MODELYARD_SERVERLESS_MAX_INSTANCES": "1"})
        try:
            sm = sagemaker_client(server.url)
            deploy(sm, "realtime", data)
            deploy_serverless(sm, "serverless", data)
            url = f"{server.url}/endpoints/serverless/invocations"
            starts = sorted(cold_start(url, "serverless") for _ in range(args.starts))
            p50 = statistics.median(starts)
            p90 = starts[min(len(starts) - 1, int(0.9 * len(starts)))]
            print(f"serverless cold start to first answer (environment cached, {len(starts)} starts): "
                  f"p50 {p50 * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, min {starts[0] * 1000:.0f} ms, "
                  f"max {starts[-1] * 1000:.0f} ms (aim p50 < 1000 ms)", flush=True)
            server.stop()
            server = start_server(work / "data", env={"MODELYARD_AUTH": "off",
                                                      "MODELYARD_SERVERLESS_IDLE_SECONDS": "3600",
                                                      "MODELYARD_SERVERLESS_MAX_INSTANCES": "1"})
            sm = sagemaker_client(server.url)
            while sm.describe_endpoint(EndpointName="realtime")["EndpointStatus"] != "InService":
                time.sleep(0.05)
            compare(args, [f"realtime={server.url}/endpoints/realtime/invocations",
                           f"serverless={server.url}/endpoints/serverless/invocations"])
        finally:
            server.stop()


if __name__ == "__main__":
    main()
