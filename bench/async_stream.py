"""Asynchronous inference and response streaming, each against a baseline measured in the same run.

    .venv/bin/python bench/async_stream.py [--requests 10000] [--clients 8] [--streams 20] [--parts 100]

- async drain: ``--requests`` small requests queued with InvokeEndpointAsync (inline bodies) on an async
  endpoint, timed from the first submission until every output object exists in the server's own S3;
  the baseline is the same number of InvokeEndpoint calls on a real-time endpoint of the same model,
  ``--clients`` at a time. Reports both rates and their ratio (aim >= 0.8).
- streaming: ``--streams`` InvokeEndpointWithResponseStream calls of a ``--parts``-part stream (the model
  yields a part every 2 ms); reports the median time to the first part, to the whole answer, and the ratio.

Both endpoints run the same model, one instance each, in one server started for the run (its own data
dir, auth on).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.server import ServerProcess, start_server  # noqa: E402

IMAGE = "modelyard/python:3.11"
ROLE = "arn:aws:iam::000000000000:role/modelyard"
BUCKET = "bench-async"
MODEL = '''
import json, time

def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    if "parts" in data:
        def parts():
            for index in range(data["parts"]):
                time.sleep(0.002)
                yield f"part {index}\\n"
        return parts()
    return {"y": [x * 2 for x in data["x"]]}
'''


def client(server: ServerProcess, service: str) -> Any:
    return boto3.client(service, endpoint_url=server.url, region_name="us-east-1",
                        config=Config(retries={"max_attempts": 2}, max_pool_connections=64), **server.credentials)


def package(directory: Path) -> Path:
    code = directory / "model" / "code"
    code.mkdir(parents=True)
    (code / "inference.py").write_text(MODEL)
    archive = directory / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(directory / "model" / "code", arcname="code")
    return archive


def deploy(sm: Any, name: str, model_data: str, asynchronous: dict[str, Any] | None = None) -> None:
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": IMAGE, "ModelDataUrl": model_data})
    extra = {"AsyncInferenceConfig": asynchronous} if asynchronous else {}
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
        **extra)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    deadline = time.monotonic() + 600
    while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] not in ("InService", "Failed"):
        if time.monotonic() > deadline:
            raise SystemExit(f"{name} did not come up")
        time.sleep(0.5)


def realtime_rate(runtime: Any, requests: int, clients: int) -> float:
    body = json.dumps({"x": [1, 2, 3]}).encode()

    def one(_: int) -> None:
        runtime.invoke_endpoint(EndpointName="bench-rt", ContentType="application/json", Body=body)["Body"].read()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(requests)))
    return requests / (time.perf_counter() - started)


def drain_rate(runtime: Any, s3: Any, requests: int, clients: int) -> tuple[float, float]:
    body = json.dumps({"x": [1, 2, 3]}).encode()

    def submit(index: int) -> None:
        runtime.invoke_endpoint_async(EndpointName="bench-async", ContentType="application/json", Body=body,
                                      InferenceId=f"r{index}")

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(submit, range(requests)))
    submitted = requests / (time.perf_counter() - started)
    paginator = s3.get_paginator("list_objects_v2")
    while True:
        count = sum(page.get("KeyCount", 0) for page in paginator.paginate(Bucket=BUCKET, Prefix="out/"))
        if count >= requests:
            return submitted, requests / (time.perf_counter() - started)
        time.sleep(0.2)


def stream_times(runtime: Any, streams: int, parts: int) -> tuple[float, float]:
    firsts, totals = [], []
    for _ in range(streams):
        started = time.perf_counter()
        answer = runtime.invoke_endpoint_with_response_stream(
            EndpointName="bench-rt", ContentType="application/json", Body=json.dumps({"parts": parts}).encode())
        first = None
        received = 0
        for _event in answer["Body"]:
            first = first if first is not None else time.perf_counter() - started
            received += 1
        if received == 0 or first is None:
            raise SystemExit("the stream had no part")
        firsts.append(first)
        totals.append(time.perf_counter() - started)
    return statistics.median(firsts), statistics.median(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--parts", type=int, default=100)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-async-"))
    server = start_server(root / "server")
    try:
        sm, runtime, s3 = client(server, "sagemaker"), client(server, "sagemaker-runtime"), client(server, "s3")
        s3.create_bucket(Bucket=BUCKET)
        model = package(root).as_uri()
        deploy(sm, "bench-rt", model)
        deploy(sm, "bench-async", model, {"OutputConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
                                          "ClientConfig": {"MaxConcurrentInvocationsPerInstance": args.clients}})
        realtime = realtime_rate(runtime, args.requests, args.clients)
        submitted, drained = drain_rate(runtime, s3, args.requests, args.clients)
        first, total = stream_times(runtime, args.streams, args.parts)
        print(f"real-time InvokeEndpoint      {realtime:10.1f} req/s "
              f"({args.requests} requests, {args.clients} clients)")
        print(f"async submit (202 answers)    {submitted:10.1f} req/s")
        print(f"async drain (submit -> stored) {drained:10.1f} req/s   ratio {drained / realtime:.2f} (aim >= 0.8)")
        print(f"stream of {args.parts} parts: first part {first * 1000:.1f} ms, whole answer {total * 1000:.1f} ms, "
              f"ratio {first / total:.3f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
