"""Metrics benchmark, three parts in one run:

    .venv/bin/python bench/metrics.py [--cycles 5] [--dur 5] [--warmup 10]        # all parts
    .venv/bin/python bench/metrics.py --endpoints 3 --hours 1 --cycles 1 --dur 1 --warmup 1 \
        --calls 2000 --repeats 2                                                  # smoke

0. The invoke handler's own CPU µs per call with and without the endpoint meter (no HTTP, an
   instance that answers at once; paired rounds, median), as bench/capture_hot_path.py measures capture.
1. Invoke throughput with endpoint metrics on vs off: two servers (MODELYARD_ENDPOINT_METRICS=on /
   off) serve the same model; ../shared/bench/compare.py runs paired wrk cycles over both (off is the
   reference), so the ratio is the cost of counting invocations (aim: < 2 %). Needs wrk.
2. GetMetricData over a day of one-minute data for 100 endpoints: the metrics-on server is filled
   with ``--hours`` of one-minute data (10 latency samples a minute) for ``--endpoints`` endpoints
   through PutMetricData, then GetMetricData asks for all of them at once (one MetricStat query per
   endpoint, Period 60, Average and p99, every page) and for one endpoint; median of ``--repeats``
   (aim: < 50 ms for the 100-endpoint query). Each row gives the boto3 call's time (botocore turns
   every timestamp into a datetime, which costs more than the server's answer for 144,000 points), the
   server's answer to the same first page over plain HTTP, and the server process's CPU for it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from hosting import build_model, deploy  # noqa: E402
from tests.support.server import ServerProcess, start_server  # noqa: E402

NAMESPACE = "Bench/SageMaker"
SAMPLES_PER_MINUTE = 10


def client(server: ServerProcess, service: str) -> Any:
    """A client of a server running with auth off."""
    return boto3.client(service, endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench")


def throughput(args: argparse.Namespace, on: ServerProcess, off: ServerProcess, model: Path) -> None:
    """Paired wrk cycles: metrics off (reference) and on."""
    for server in (off, on):
        deploy(client(server, "sagemaker"), "bench", f"file://{model}")
    command = [sys.executable, str(SHARED / "compare.py"), "--cycles", str(args.cycles), "--dur", str(args.dur),
               "--warmup", str(args.warmup), "--target", f"metrics_off={off.url}/endpoints/bench/invocations",
               "--target", f"metrics_on={on.url}/endpoints/bench/invocations"]
    subprocess.run(command, check=True)


def fill(cw: Any, endpoints: int, hours: float) -> dt.datetime:
    """One-minute data for every endpoint over the last ``hours``; the end of the filled range."""
    end = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    minutes = int(hours * 60)
    random.seed(7)
    batch: list[dict[str, Any]] = []
    for index in range(endpoints):
        dimensions = [{"Name": "EndpointName", "Value": f"endpoint-{index}"},
                      {"Name": "VariantName", "Value": "AllTraffic"}]
        for minute in range(minutes):
            batch.append({"MetricName": "ModelLatency", "Dimensions": dimensions, "Unit": "Microseconds",
                          "Timestamp": end - dt.timedelta(minutes=minute + 1),
                          "Values": [random.lognormvariate(8, 0.5) for _ in range(SAMPLES_PER_MINUTE)]})
            if len(batch) == 1000:
                cw.put_metric_data(Namespace=NAMESPACE, MetricData=batch)
                batch = []
    if batch:
        cw.put_metric_data(Namespace=NAMESPACE, MetricData=batch)
    return end


def query(cw: Any, endpoints: list[int], stat: str, start: dt.datetime, end: dt.datetime) -> tuple[float, int]:
    """Seconds to read every page of one GetMetricData call, and the datapoints read."""
    queries = [{"Id": f"e{index}", "MetricStat": {"Metric": {
        "Namespace": NAMESPACE, "MetricName": "ModelLatency",
        "Dimensions": [{"Name": "EndpointName", "Value": f"endpoint-{index}"},
                       {"Name": "VariantName", "Value": "AllTraffic"}]}, "Period": 60, "Stat": stat}}
        for index in endpoints]
    started, points, token = time.perf_counter(), 0, None
    while True:
        extra = {"NextToken": token} if token else {}
        page = cw.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end, **extra)
        points += sum(len(result["Values"]) for result in page["MetricDataResults"])
        token = page.get("NextToken")
        if not token:
            return time.perf_counter() - started, points


def raw_first_page(server: ServerProcess, endpoints: list[int], stat: str, start: dt.datetime,
                   end: dt.datetime) -> tuple[float, float]:
    """Seconds and server CPU seconds for the first page of the query over plain HTTP (no botocore)."""
    import json
    import os
    import urllib.request

    queries = [{"Id": f"e{index}", "MetricStat": {"Metric": {
        "Namespace": NAMESPACE, "MetricName": "ModelLatency",
        "Dimensions": [{"Name": "EndpointName", "Value": f"endpoint-{index}"},
                       {"Name": "VariantName", "Value": "AllTraffic"}]}, "Period": 60, "Stat": stat}}
        for index in endpoints]
    body = json.dumps({"MetricDataQueries": queries, "StartTime": start.timestamp(),
                       "EndTime": end.timestamp()}).encode()
    request = urllib.request.Request(server.url + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "GraniteServiceVersion20100801.GetMetricData"})
    stat_path, tick = f"/proc/{server.process.pid}/stat", os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        fields = Path(stat_path).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    began_cpu, began = cpu(), time.perf_counter()
    with urllib.request.urlopen(request) as response:
        response.read()
    return time.perf_counter() - began, cpu() - began_cpu


def read_latency(args: argparse.Namespace, server: ServerProcess) -> None:
    """Fill, wait for the flush, then time GetMetricData."""
    cw = client(server, "cloudwatch")
    began = time.perf_counter()
    end = fill(cw, args.endpoints, args.hours)
    start = end - dt.timedelta(hours=args.hours)
    expected = args.endpoints * int(args.hours * 60)
    while query(cw, list(range(args.endpoints)), "Average", start, end)[1] < expected:
        time.sleep(0.5)
    print(f"filled {expected} endpoint-minutes in {time.perf_counter() - began:.1f} s", flush=True)
    for label, endpoints in ((f"{args.endpoints} endpoints", list(range(args.endpoints))), ("1 endpoint", [0])):
        for stat in ("Average", "p99"):
            timings = [query(cw, endpoints, stat, start, end) for _ in range(args.repeats)]
            seconds = statistics.median(t for t, _ in timings)
            raw = [raw_first_page(server, endpoints, stat, start, end) for _ in range(args.repeats)]
            print(f"GetMetricData {label}, {args.hours:g} h, Period 60, {stat}: {timings[0][1]} datapoints, "
                  f"boto3 every page median {seconds * 1000:.1f} ms; server first page over HTTP median "
                  f"{statistics.median(t for t, _ in raw) * 1000:.1f} ms, server CPU "
                  f"{statistics.median(c for _, c in raw) * 1000:.0f} ms; over {args.repeats}", flush=True)


def hot_path(args: argparse.Namespace) -> None:
    """InvokeEndpoint's CPU per call without and with the meter, alternating rounds."""
    import asyncio

    from capture_hot_path import rate, routes

    from modelyard.hosting.invoke import InvokeEndpoint
    from modelyard.hosting.router import Router
    from modelyard.metrics.endpoint_meter import EndpointMeter
    from modelyard.settings import Limits

    router = Router()
    router.publish("000000000000", "us-east-1", routes("bench"))
    meter = EndpointMeter()
    handlers = {"meter_off": InvokeEndpoint(router, Limits()), "meter_on": InvokeEndpoint(router, Limits(), meter)}
    results: dict[str, list[float]] = {name: [] for name in handlers}
    names = list(handlers)
    for round_ in range(args.rounds):
        for name in names[round_ % 2:] + names[:round_ % 2]:
            results[name].append(asyncio.run(rate(handlers[name], "bench", args.calls)))
            meter.drain()
    off = statistics.median(results["meter_off"])
    on = statistics.median(results["meter_on"])
    print(f"invoke handler CPU per call: meter off {off:.2f} µs, on {on:.2f} µs (+{on - off:.2f} µs, "
          f"median of {args.rounds} rounds of {args.calls} calls)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--dur", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--endpoints", type=int, default=100)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200_000, help="calls per hot-path round")
    parser.add_argument("--rounds", type=int, default=7, help="hot-path rounds")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    hot_path(args)
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        work = Path(tmp)
        build_model(work / "bm")
        model = work / "bm" / "model.tar.gz"
        common = {"MODELYARD_AUTH": "off", "MODELYARD_METRICS_FLUSH_SECONDS": "1"}
        on = start_server(work / "on", env={**common, "MODELYARD_ENDPOINT_METRICS": "on"})
        off = start_server(work / "off", env={**common, "MODELYARD_ENDPOINT_METRICS": "off"})
        try:
            if not args.skip_throughput:
                throughput(args, on, off, model)
            read_latency(args, on)
        finally:
            on.stop()
            off.stop()


if __name__ == "__main__":
    main()
