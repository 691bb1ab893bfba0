"""Multi-model endpoint benchmark: many models on one instance under a memory budget, Zipf traffic.

    .venv/bin/python bench/mme.py [--models 1000] [--active 200] [--budget-models 50] [--concurrency 8]
                                  [--requests 20000] [--zipf 1.1] [--dur 10] [--rounds 3] [--tiny]

One run, in order:
1. a probe: one model loaded on its own to measure what a loaded model holds (resident memory), so the
   instance's budget (MODELYARD_MME_MEMORY_BUDGET_BYTES) holds ``--budget-models`` models;
2. ``--models`` model.tar.gz under a file:// prefix (a small scikit-learn model, all with the same
   requirements: one environment, built once; ``--tiny`` uses a pure-Python model instead);
3. Zipf-distributed traffic (exponent ``--zipf``) over the first ``--active`` models at
   ``--concurrency``: hit ratio (client side: a reply from a process not seen before for its model is
   the miss that loaded it; and the server's ModelCacheHit average), p50/p99 of hits and of misses;
4. cold-load time: first calls to models not loaded, one at a time (the environment is cached);
5. hit throughput: the MME on one loaded model against a single-model endpoint on the same model,
   ``--rounds`` paired rounds of ``--dur`` seconds, and their ratio (aim ≥ 0.90).

The server runs with auth off; calls are plain HTTP POSTs with the X-Amzn-SageMaker-Target-Model header.
Not run here: the same traffic against the seed's MMS container in MME mode (left for later).
"""

from __future__ import annotations

import argparse
import http.client
import json
import pickle
import random
import statistics
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.multimodel.models import processes_of  # noqa: E402
from tests.support.server import start_server  # noqa: E402

IMAGE = "modelyard/python:3.11"
SKLEARN_CODE = '''
import json, os, pickle, uuid
PROCESS = uuid.uuid4().hex

def model_fn(model_dir, context=None):
    with open(os.path.join(model_dir, "model.pkl"), "rb") as handle:
        return pickle.load(handle)

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    return {"y": model.predict(data["x"]).tolist(), "process": PROCESS}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''
TINY_CODE = '''
import json, os, uuid
PROCESS = uuid.uuid4().hex

def model_fn(model_dir, context=None):
    with open(os.path.join(model_dir, "weights.json")) as handle:
        return json.load(handle)

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    return {"y": [sum(w * v for w, v in zip(model["w"], row)) for row in data["x"]], "process": PROCESS}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''
BODY = json.dumps({"x": [[1.0, 2.0, 3.0]]}).encode()


def write_models(prefix: Path, count: int, tiny: bool) -> None:
    """``count`` artifacts m0000.tar.gz … under ``prefix``, each with its own weights."""
    prefix.mkdir(parents=True)
    rng = random.Random(7)
    for index in range(count):
        work = prefix.parent / "build" / str(index)
        (work / "code").mkdir(parents=True)
        weights = [rng.uniform(-1, 1) for _ in range(3)]
        if tiny:
            (work / "weights.json").write_text(json.dumps({"w": weights}))
            (work / "code" / "inference.py").write_text(TINY_CODE)
        else:
            from sklearn.linear_model import LinearRegression

            model = LinearRegression().fit([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]],
                                           [weights[0], weights[1], weights[2], sum(weights)])
            (work / "model.pkl").write_bytes(pickle.dumps(model))
            (work / "code" / "inference.py").write_text(SKLEARN_CODE)
            (work / "code" / "requirements.txt").write_text("scikit-learn\n")
        with tarfile.open(prefix / f"m{index:04d}.tar.gz", "w:gz") as tar:
            for child in sorted(work.iterdir()):
                tar.add(child, arcname=child.name)


def deploy(sm, name: str, data: str, multi: bool) -> None:  # type: ignore[no-untyped-def]
    container = {"Image": IMAGE, "ModelDataUrl": data, **({"Mode": "MultiModel"} if multi else {})}
    sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::000000000000:role/bench",
                    PrimaryContainer=container)
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    while (status := sm.describe_endpoint(EndpointName=name))["EndpointStatus"] not in ("InService", "Failed"):
        time.sleep(0.05)
    if status["EndpointStatus"] == "Failed":
        raise RuntimeError(status["FailureReason"])


class Caller:
    """One keep-alive connection to the server's runtime API."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)

    def call(self, endpoint: str, target: str | None) -> dict:  # type: ignore[type-arg]
        """Invoke once, retrying while the model is not ready; the decoded reply."""
        headers = {"Content-Type": "application/json"}
        if target:
            headers["X-Amzn-SageMaker-Target-Model"] = target
        while True:
            self.connection.request("POST", f"/endpoints/{endpoint}/invocations", BODY, headers)
            response = self.connection.getresponse()
            payload = response.read()
            if response.status == 429:
                time.sleep(0.05)
                continue
            if response.status != 200:
                raise RuntimeError(f"{endpoint} {target}: {response.status} {payload[:300]!r}")
            return json.loads(payload)  # type: ignore[no-any-return]


def zipf_weights(count: int, exponent: float) -> list[float]:
    return [1.0 / (rank ** exponent) for rank in range(1, count + 1)]


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


def zipf_traffic(url: str, endpoint: str, args: argparse.Namespace) -> tuple[list[float], list[float]]:
    """Hit and miss latencies (seconds) of ``args.requests`` calls spread over ``args.concurrency`` threads."""
    targets = [f"m{i:04d}.tar.gz" for i in range(args.active)]
    weights = zipf_weights(args.active, args.zipf)
    seen: dict[str, set[str]] = {}
    hits: list[float] = []
    misses: list[float] = []
    lock = threading.Lock()
    per_thread = args.requests // args.concurrency

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        caller = Caller(url)
        for target in rng.choices(targets, weights, k=per_thread):
            started = time.perf_counter()
            reply = caller.call(endpoint, target)
            elapsed = time.perf_counter() - started
            with lock:
                processes = seen.setdefault(target, set())
                (hits if reply["process"] in processes else misses).append(elapsed)
                processes.add(reply["process"])

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return hits, misses


def throughput(url: str, endpoint: str, target: str | None, concurrency: int, seconds: float) -> float:
    """Calls per second at ``concurrency`` for ``seconds``."""
    stop = time.monotonic() + seconds
    counts = [0] * concurrency

    def worker(index: int) -> None:
        caller = Caller(url)
        while time.monotonic() < stop:
            caller.call(endpoint, target)
            counts[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds


def server_hit_ratio(logs, endpoint: str) -> float | None:  # type: ignore[no-untyped-def]
    """The server's ModelCacheHit average, from the instance's last snapshot."""
    from modelyard.log_groups import MODEL_SNAPSHOT_MARK, deployment_group

    group = deployment_group(endpoint)
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        if stream["logStreamName"].endswith("/models"):
            events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"], limit=5,
                                         startFromHead=False)["events"]
            lines = [e["message"] for e in events if e["message"].startswith(MODEL_SNAPSHOT_MARK)]
            if lines:
                return json.loads(lines[-1][len(MODEL_SNAPSHOT_MARK):])["Metrics"]["ModelCacheHit"]["Average"]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--active", type=int, default=200)
    parser.add_argument("--budget-models", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--zipf", type=float, default=1.1)
    parser.add_argument("--cold", type=int, default=10, help="cold loads timed one at a time")
    parser.add_argument("--dur", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="pure-Python models instead of scikit-learn")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        work = Path(tmp)
        prefix = work / "models"
        write_models(prefix, args.models, args.tiny)
        data_dir = work / "data"
        client = {"region_name": "us-east-1", "aws_access_key_id": "bench", "aws_secret_access_key": "bench"}

        probe = start_server(data_dir, env={"MODELYARD_AUTH": "off"})
        try:
            sm = boto3.client("sagemaker", endpoint_url=probe.url, **client)
            deploy(sm, "probe", f"file://{prefix}/", multi=True)
            started = time.perf_counter()
            Caller(probe.url).call("probe", "m0000.tar.gz")
            first_load = time.perf_counter() - started
            time.sleep(1.0)
            model_bytes = sum(processes_of("probe").values())
        finally:
            probe.stop()
        budget = model_bytes * args.budget_models
        print(f"probe: first load (environment built) {first_load:.2f} s; one loaded model holds "
              f"{model_bytes / 2**20:.1f} MiB -> budget {budget / 2**20:.0f} MiB for {args.budget_models} models",
              flush=True)

        server = start_server(data_dir, env={"MODELYARD_AUTH": "off",
                                             "MODELYARD_MME_MEMORY_BUDGET_BYTES": str(budget),
                                             "MODELYARD_INVOKE_TIMEOUT_SECONDS": "60"})
        try:
            sm = boto3.client("sagemaker", endpoint_url=server.url, **client)
            logs = boto3.client("logs", endpoint_url=server.url, **client)
            deploy(sm, "mme", f"file://{prefix}/", multi=True)
            deploy(sm, "single", f"file://{prefix}/m0000.tar.gz", multi=False)

            hits, misses = zipf_traffic(server.url, "mme", args)
            total = len(hits) + len(misses)
            print(f"zipf s={args.zipf} over {args.active} of {args.models} models, c={args.concurrency}, "
                  f"{total} calls: hit ratio {len(hits) / total:.3f} (server ModelCacheHit "
                  f"{server_hit_ratio(logs, 'mme')})")
            print(f"  hits   p50 {percentile(hits, 0.5) * 1e3:8.2f} ms  p99 {percentile(hits, 0.99) * 1e3:8.2f} ms")
            print(f"  misses p50 {percentile(misses, 0.5) * 1e3:8.2f} ms  p99 {percentile(misses, 0.99) * 1e3:8.2f} ms")

            caller = Caller(server.url)
            cold = []
            for index in range(args.active, min(args.active + args.cold, args.models)):
                started = time.perf_counter()
                caller.call("mme", f"m{index:04d}.tar.gz")
                cold.append(time.perf_counter() - started)
            if cold:
                print(f"cold load (environment cached), {len(cold)} models one at a time: p50 "
                      f"{statistics.median(cold) * 1e3:.0f} ms, max {max(cold) * 1e3:.0f} ms (aim p50 < 300 ms)")

            caller.call("mme", "m0000.tar.gz")
            ratios = []
            for round_number in range(args.rounds):
                single = throughput(server.url, "single", None, args.concurrency, args.dur)
                multi = throughput(server.url, "mme", "m0000.tar.gz", args.concurrency, args.dur)
                ratios.append(multi / single)
                print(f"round {round_number + 1}: hit throughput MME {multi:.0f}/s, single-model {single:.0f}/s, "
                      f"ratio {multi / single:.3f}", flush=True)
            print(f"hit throughput ratio MME / single-model, median of {args.rounds}: "
                  f"{statistics.median(ratios):.3f} (aim ≥ 0.90)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
