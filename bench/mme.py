"""Multi-model endpoint benchmark: many models on one instance under a memory budget, Zipf traffic, against
a single-model endpoint and against AWS's multi-model-server in multi-model mode, in one run.

    .venv/bin/python bench/mme.py [--models 1000] [--active 200] [--budget-models 50] [--concurrency 8]
                                  [--requests 20000] [--zipf 1.1] [--cold 10] [--dur 10] [--rounds 3]
                                  [--tiny] [--no-mms] [--call-timeout 120] [--phase-seconds 900]

One run, in order:
1. ``--models`` model.tar.gz under a file:// prefix: a small scikit-learn LinearRegression each (pickled
   by the bench's tool venv, bench/mme_artifacts.py: the project venv needs no scikit-learn), all with the
   same pinned requirements, so modelyard builds one environment; ``--tiny``: pure-Python models;
2. a probe server loads one model to measure what a loaded model holds (resident memory), so the main
   server's budget (MODELYARD_MME_MEMORY_BUDGET_BYTES) holds ``--budget-models`` models;
3. Zipf traffic (exponent ``--zipf``) over the first ``--active`` models at ``--concurrency``: hit ratio
   (client side: a call answered by a process that had answered for its model before the call started is
   a hit, any other waited for a load; and the server's ModelCacheHit average), p50/p99 of hits and of
   misses;
4. cold loads: first calls to ``--cold`` models not loaded, one at a time (environment cached);
5. the same traffic and cold loads against multi-model-server in multi-model mode on the same models
   (bench/mme_mms.py: the sagemaker-inference toolkit's MME configuration, one worker per model, at most
   ``--budget-models`` loaded, least recently used unloaded);
6. hit throughput on one loaded model, ``--rounds`` paired wrk rounds (c=8) of ``--dur`` seconds: modelyard's MME,
   a single-model endpoint on the same model (aim MME ≥ 0.90 of it) and MMS (aim MME ≥ 3× MMS), with the
   server's and the toolkit's CPU per call (bench/proc_cpu.py). wrk, not the Python client of the traffic
   phases, drives these rounds: at 6–9 k calls/s that client, not the server, was the ceiling. Each round
   is checked by a correct answer before and after it; wrk's non-2xx count is an error row.

Every call has a timeout (``--call-timeout``), every phase a deadline (``--phase-seconds``); a failed call
is counted by kind, printed as an error row, and never stops the run. Every reply is checked against the
model it named. The server runs with auth off; calls are plain HTTP POSTs with the
X-Amzn-SageMaker-Target-Model header.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from hosting import low_free_port  # noqa: E402
from mme_artifacts import answers, tool_python, write_models  # noqa: E402
from mme_mms import CallFailed, MmsPlatform, MmsServer  # noqa: E402
from proc_cpu import Pids, anywhere, matching, one_round  # noqa: E402
from tests.multimodel.models import processes_of  # noqa: E402
from tests.support.server import start_server  # noqa: E402

IMAGE = "modelyard/python:3.11"
MODEL_NAME = re.compile(r"m\d{4}(\.tar\.gz)?")
BODY = json.dumps({"x": [[1.0, 2.0, 3.0]]}).encode()
Call = Callable[[str], dict]  # type: ignore[type-arg]


def deploy(sm, name: str, data: str, multi: bool) -> None:  # type: ignore[no-untyped-def]
    """A multi-model endpoint (one worker per model, its default) or a single-model one on one worker, so the
    hit-path rounds compare one worker with one worker (a single-model endpoint defaults to one per vCPU)."""
    container = {"Image": IMAGE, "ModelDataUrl": data,
                 **({"Mode": "MultiModel"} if multi else {"Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}})}
    sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::000000000000:role/bench",
                    PrimaryContainer=container)
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    deadline = time.monotonic() + 900
    while (status := sm.describe_endpoint(EndpointName=name))["EndpointStatus"] not in ("InService", "Failed"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"endpoint {name} not InService after 900 s")
        time.sleep(0.05)
    if status["EndpointStatus"] == "Failed":
        raise RuntimeError(status["FailureReason"])


@dataclass
class Errors:
    """Failed calls by kind, shared by a phase's threads."""

    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, count: int = 1) -> None:
        with self.lock:
            self.counts[kind] += count

    def report(self, phase: str) -> None:
        if not self.counts:
            print(f"  errors ({phase}): none")
        for kind, count in self.counts.most_common():
            print(f"  errors ({phase}): {count:6d}  {kind}")


class ModelyardCaller:
    """One keep-alive connection to the server's runtime API (one client thread's)."""

    def __init__(self, url: str, endpoint: str, timeout: float, errors: Errors) -> None:
        parts = urlsplit(url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.endpoint = endpoint
        self.timeout = timeout
        self.errors = errors
        self.connection = http.client.HTTPConnection(*self.address, timeout=timeout)

    def __call__(self, target: str | None) -> dict:  # type: ignore[type-arg]
        """The decoded reply; a 429 (ModelNotReadyException) is counted and retried until the call's timeout."""
        headers = {"Content-Type": "application/json"}
        if target:
            headers["X-Amzn-SageMaker-Target-Model"] = target
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self.connection.request("POST", f"/endpoints/{self.endpoint}/invocations", BODY, headers)
                response = self.connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                self.connection.close()
                raise
            if response.status == 429 and time.monotonic() < deadline:
                self.errors.add("429 (retried): " + _error_code(payload))
                time.sleep(0.05)
                continue
            if response.status != 200:
                raise CallFailed(f"{response.status} {_error_code(payload)}")
            return json.loads(payload)  # type: ignore[no-any-return]


class MmsCaller:
    """One client thread's calls to MMS through the platform part played by ``MmsPlatform``."""

    def __init__(self, platform: MmsPlatform) -> None:
        self.platform = platform
        self.connection = platform.connection()

    def __call__(self, target: str | None) -> dict:  # type: ignore[type-arg]
        try:
            return json.loads(self.platform.invoke(self.connection, target or "m0000.tar.gz", BODY))  # type: ignore[no-any-return]
        except (OSError, http.client.HTTPException):
            self.connection.close()
            raise


def _error_code(payload: bytes) -> str:
    """The error's code and message, with model names folded (so a kind of failure is one row)."""
    try:
        document = json.loads(payload)
        text = f"{document.get('__type') or document.get('code') or ''}: {str(document.get('message'))[:160]}"
    except ValueError:
        text = repr(payload[:160])
    return MODEL_NAME.sub("<model>", text)


@dataclass
class Outcome:
    """What one phase's calls did."""

    records: list[tuple[str, float, float, str]] = field(default_factory=list)
    """(target, start, seconds, answering process) of every correct reply (start: perf_counter)."""
    errors: Errors = field(default_factory=Errors)
    seconds: float = 0.0


def drive(make_caller: Callable[[Errors], Callable[[str | None], dict]],  # type: ignore[type-arg]
          plans: list[Iterable[str | None]], truth: dict[str, float], stop: float, call_timeout: float) -> Outcome:
    """Each plan's calls on a thread of its own until the plan ends or ``stop`` (monotonic) passes; a call
    that fails, or answers for another model, is counted and the thread goes on. Threads still waiting
    ``call_timeout`` after ``stop`` are counted and left behind (daemon threads: the run never hangs)."""
    outcome = Outcome()
    lock = threading.Lock()

    def worker(plan: Iterable[str | None]) -> None:
        try:
            caller = make_caller(outcome.errors)
        except Exception as exc:  # noqa: BLE001 - counted, the other threads go on
            outcome.errors.add(f"client could not start: {type(exc).__name__}: {exc}")
            return
        for target in plan:
            if time.monotonic() >= stop:
                return
            started = time.perf_counter()
            try:
                reply = caller(target)
                elapsed = time.perf_counter() - started
                if not _correct(reply, truth.get(target or "m0000.tar.gz")):
                    outcome.errors.add(f"wrong answer: {str(reply)[:120]}")
                    continue
            except CallFailed as exc:
                outcome.errors.add(MODEL_NAME.sub("<model>", exc.kind))
                continue
            except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
                outcome.errors.add(f"{type(exc).__name__}: {str(exc)[:160]}")
                continue
            with lock:
                outcome.records.append((target or "", started, elapsed, str(reply.get("process"))))

    threads = [threading.Thread(target=worker, args=(plan,), daemon=True) for plan in plans]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(stop + call_timeout + 5 - time.monotonic(), 0.1))
    outcome.seconds = time.monotonic() - started
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        outcome.errors.add("client thread still waiting at the phase's end (left behind)", stuck)
    return outcome


def _correct(reply: dict, expected: float | None) -> bool:  # type: ignore[type-arg]
    try:
        return expected is None or abs(float(reply["y"][0]) - expected) < 1e-6
    except (KeyError, IndexError, TypeError, ValueError):
        return False


def split(outcome: Outcome) -> tuple[list[float], list[float]]:
    """Hit and miss latencies: a call is a hit if the process that answered it had already answered a call
    for its model before this call started (else the call waited for, or made, that process's load)."""
    first_answer: dict[tuple[str, str], float] = {}
    for target, started, elapsed, process in outcome.records:
        key = (target, process)
        first_answer[key] = min(first_answer.get(key, float("inf")), started + elapsed)
    hits: list[float] = []
    misses: list[float] = []
    for target, started, elapsed, process in outcome.records:
        (hits if first_answer[(target, process)] < started else misses).append(elapsed)
    return hits, misses


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


def zipf_plans(args: argparse.Namespace) -> list[Iterable[str | None]]:
    """Each thread's targets: ``args.requests`` calls, Zipf over the first ``args.active`` models."""
    targets = [f"m{i:04d}.tar.gz" for i in range(args.active)]
    weights = [1.0 / (rank ** args.zipf) for rank in range(1, args.active + 1)]
    per_thread = args.requests // args.concurrency
    return [random.Random(seed).choices(targets, weights, k=per_thread) for seed in range(args.concurrency)]


def report_traffic(system: str, outcome: Outcome, args: argparse.Namespace, server_ratio: Any = None) -> None:
    hits, misses = split(outcome)
    total = len(hits) + len(misses)
    ratio = len(hits) / total if total else float("nan")
    server = f" (server ModelCacheHit {server_ratio:.3f})" if isinstance(server_ratio, float) else ""
    print(f"{system}: zipf s={args.zipf} over {args.active} of {args.models} models, c={args.concurrency}, "
          f"{total} correct replies in {outcome.seconds:.1f} s: hit ratio {ratio:.3f}{server}")
    print(f"  hits   p50 {percentile(hits, 0.5) * 1e3:8.2f} ms  p99 {percentile(hits, 0.99) * 1e3:8.2f} ms  "
          f"({len(hits)})")
    print(f"  misses p50 {percentile(misses, 0.5) * 1e3:8.2f} ms  p99 {percentile(misses, 0.99) * 1e3:8.2f} ms  "
          f"({len(misses)})", flush=True)
    outcome.errors.report(f"{system} zipf")


def cold_loads(system: str, make_caller: Callable[[Errors], Callable[[str | None], dict]],  # type: ignore[type-arg]
               args: argparse.Namespace, truth: dict[str, float]) -> float | None:
    """First calls to models not loaded, one at a time; their p50 (seconds)."""
    targets = [f"m{i:04d}.tar.gz" for i in range(args.active, min(args.active + args.cold, args.models))]
    outcome = drive(make_caller, [targets], truth, time.monotonic() + args.phase_seconds, args.call_timeout)
    cold = [elapsed for _, _, elapsed, _ in outcome.records]
    if cold:
        print(f"{system}: cold load (environment cached), {len(cold)} models one at a time: p50 "
              f"{statistics.median(cold) * 1e3:.0f} ms, max {max(cold) * 1e3:.0f} ms (aim p50 < 300 ms)", flush=True)
    outcome.errors.report(f"{system} cold loads")
    return statistics.median(cold) if cold else None


@dataclass
class HitTarget:
    """What one hit-throughput round drives with wrk: a URL, the TargetModel header (if any), the processes
    whose CPU per call is reported, and a correctness check made before and after each round."""

    url: str
    header: str | None
    processes: dict[str, Pids]
    check: Callable[[], dict]  # type: ignore[type-arg]
    answer: float


def hit_round(label: str, target: HitTarget, args: argparse.Namespace, errors: Errors) -> dict[str, float]:
    """One wrk round of ``args.dur`` seconds at ``args.concurrency`` (server-bound, unlike the Python client
    of the traffic phases): req/s, CPU µs per call of each process group; a wrong or failed answer to the
    checks around it, or a non-2xx answer during it, is counted as an error."""
    _check_hit(label, target, "before", errors)
    row = one_round(target.url, target.processes, max(1, round(args.dur)), BODY.decode(), "application/json",
                    target.header)
    if row["errors"]:
        errors.add(f"{label}: wrk counted non-2xx or socket errors", int(row["errors"]))
    _check_hit(label, target, "after", errors)
    return row


def _check_hit(label: str, target: HitTarget, when: str, errors: Errors) -> None:
    try:
        if not _correct(target.check(), target.answer):
            errors.add(f"{label}: wrong answer {when} the round")
    except (CallFailed, OSError, http.client.HTTPException) as exc:
        errors.add(f"{label}: {when} the round: {exc}")


def median_ratio(numerators: list[float], denominators: list[float]) -> float:
    """The median of the paired rounds' ratios."""
    return statistics.median(n / max(d, 1e-9) for n, d in zip(numerators, denominators, strict=True))


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


def start_mms(args: argparse.Namespace, work: Path, prefix: Path, code: Path) -> tuple[MmsServer, MmsPlatform] | None:
    """multi-model-server in multi-model mode, or None (with the reason printed) if it cannot run here."""
    port = low_free_port()
    try:
        server = MmsServer(tool_python(), code, work / "mms", port)
        try:
            server.wait_ready()
        except BaseException:
            server.stop()
            raise
    except Exception as exc:  # noqa: BLE001 - the rest of the run goes on without the baseline
        print(f"MMS baseline not run: {exc}", flush=True)
        return None
    return server, MmsPlatform(port, prefix, work / "mms" / "models", args.budget_models, args.call_timeout)


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
    parser.add_argument("--no-mms", action="store_true", help="skip the multi-model-server baseline")
    parser.add_argument("--call-timeout", type=float, default=120.0)
    parser.add_argument("--phase-seconds", type=float, default=900.0, help="deadline of each traffic phase")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    print(f"args: {vars(args)}", flush=True)
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        work = Path(tmp)
        prefix = work / "models"
        started = time.monotonic()
        code = write_models(prefix, args.models, args.tiny)
        truth = {f"m{i:04d}.tar.gz": answer for i, answer in enumerate(answers(args.models))}
        print(f"{args.models} {'pure-Python' if args.tiny else 'scikit-learn'} models written in "
              f"{time.monotonic() - started:.1f} s", flush=True)
        data_dir = work / "data"
        client = {"region_name": "us-east-1", "aws_access_key_id": "bench", "aws_secret_access_key": "bench"}

        probe = start_server(data_dir, env={"MODELYARD_AUTH": "off"})
        try:
            sm = boto3.client("sagemaker", endpoint_url=probe.url, **client)
            deploy(sm, "probe", f"file://{prefix}/", multi=True)
            started = time.monotonic()
            ModelyardCaller(probe.url, "probe", 900, Errors())("m0000.tar.gz")
            first_load = time.monotonic() - started
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
        mms = None
        try:
            sm = boto3.client("sagemaker", endpoint_url=server.url, **client)
            logs = boto3.client("logs", endpoint_url=server.url, **client)
            deploy(sm, "mme", f"file://{prefix}/", multi=True)
            deploy(sm, "single", f"file://{prefix}/m0000.tar.gz", multi=False)

            def modelyard(endpoint: str) -> Callable[[Errors], Callable[[str | None], dict]]:  # type: ignore[type-arg]
                return lambda errors: ModelyardCaller(server.url, endpoint, args.call_timeout, errors)

            outcome = drive(modelyard("mme"), zipf_plans(args), truth, time.monotonic() + args.phase_seconds,
                            args.call_timeout)
            report_traffic("modelyard MME", outcome, args, server_hit_ratio(logs, "mme"))
            cold_loads("modelyard MME", modelyard("mme"), args, truth)

            mms = None if args.no_mms else start_mms(args, work, prefix, code)
            if mms is not None:
                platform = mms[1]

                def mms_caller(errors: Errors) -> Callable[[str | None], dict]:  # type: ignore[type-arg]
                    return MmsCaller(platform)

                outcome = drive(mms_caller, zipf_plans(args), truth, time.monotonic() + args.phase_seconds,
                                args.call_timeout)
                report_traffic("MMS multi-model mode", outcome, args)
                cold_loads("MMS multi-model mode", mms_caller, args, truth)

            errors = Errors()
            first = "m0000.tar.gz"
            server_pid = server.process.pid
            below = matching(server_pid, "modelyard.toolkit")
            on_server = {"server": lambda: [server_pid], "toolkit": below}
            def one_call(make_caller: Callable[[Errors], Callable[[str | None], dict]],  # type: ignore[type-arg]
                         target: str | None) -> Callable[[], dict]:  # type: ignore[type-arg]
                """A check on a fresh connection (a kept one would have been closed idle during the round)."""
                return lambda: make_caller(errors)(target)

            hit_targets = {
                "single-model": HitTarget(f"{server.url}/endpoints/single/invocations", None, on_server,
                                          one_call(modelyard("single"), None), truth[first]),
                "MME": HitTarget(f"{server.url}/endpoints/mme/invocations", f"X-Amzn-SageMaker-Target-Model: {first}",
                                 on_server, one_call(modelyard("mme"), first), truth[first])}
            if mms is not None:
                hit_targets["MMS"] = HitTarget(f"http://127.0.0.1:{mms[1].port}/models/m0000/invoke", None,
                                               {"mms": anywhere("com.amazonaws.ml.mms.ModelServer")},
                                               one_call(mms_caller, first), truth[first])
            rows: dict[str, list[dict[str, float]]] = {name: [] for name in hit_targets}
            for round_number in range(args.rounds):
                for name, target in hit_targets.items():
                    rows[name].append(hit_round(name, target, args, errors))
                shown = ", ".join(f"{name} {rows[name][-1]['req/s']:.0f}/s" for name in rows)
                cpu = ", ".join(f"{name} {rows[name][-1]['server']:.1f}" for name in ("single-model", "MME"))
                print(f"round {round_number + 1}: hit throughput at c=8 (wrk): {shown}; MME / single-model "
                      f"{rows['MME'][-1]['req/s'] / max(rows['single-model'][-1]['req/s'], 1e-9):.3f}; "
                      f"server CPU µs per call: {cpu}", flush=True)
            rates = {name: [row["req/s"] for row in rows[name]] for name in rows}
            single = median_ratio(rates["MME"], rates["single-model"])
            print(f"hit throughput MME / single-model, median of {args.rounds}: {single:.3f} (aim ≥ 0.90)")
            for process in ("server", "toolkit"):
                print(f"{process} CPU µs per hit, median: single-model "
                      f"{statistics.median(row[process] for row in rows['single-model']):.1f}, MME "
                      f"{statistics.median(row[process] for row in rows['MME']):.1f}")
            if "MMS" in rates:
                over_mms = median_ratio(rates["MME"], rates["MMS"])
                print(f"hit throughput MME / MMS multi-model mode, median of {args.rounds}: {over_mms:.2f} (aim ≥ 3)")
            errors.report("hit throughput")
        finally:
            if mms is not None:
                mms[0].stop()
            server.stop()


if __name__ == "__main__":
    main()
