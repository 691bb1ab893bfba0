"""Hosting benchmark: the same small model served by modelyard's full path and by the baselines in
../shared/bench, alternating in one run (paired wrk cycles by ../shared/bench/compare.py).

    .venv/bin/python bench/hosting.py [--cycles 5] [--dur 5] [--warmup 30] [--no-mms]
    .venv/bin/python bench/hosting.py --capture      # data capture off vs 100 %, paired, nothing else

Targets: mms (sagemaker-inference toolkit + multi-model-server, the reference), modelyard
(InvokeEndpoint through the server), direct (the same toolkit instance's HTTP port, no router hop),
ceiling (handlers in-process behind bare uvicorn). Also reports CreateEndpoint -> InService with
the environment already built. ``--capture`` compares instead the same endpoint without data capture
(modelyard) and with 100 % capture of input and output to a file:// destination (capture100).
Needs wrk and Java 17 (for MMS). The server runs with auth off, as wrk
does not sign requests; bench/auth.py measures what verification adds.

After the paired throughput/latency table, ``--cpu-cycles`` more rotating c=8 rounds measure the CPU
time each process behind each target spends per request (bench/proc_cpu.py: utime+stime from /proc
over the requests wrk completed): modelyard's server and its toolkit processes (parent and workers),
MMS's java frontend and python workers, direct's toolkit, the ceiling's uvicorn, and wrk itself.
Both sides run the worker count SageMaker's toolkits choose when SAGEMAKER_MODEL_SERVER_WORKERS is
unset, one per core: MMS and direct's toolkit do so by themselves, the endpoint's toolkit runs one per
vCPU of its instance type (ml.m5.large: 2) capped at the machine's cores. The benchmark still sets
SAGEMAKER_MODEL_SERVER_WORKERS to the core count on every side (the endpoint's model, direct's toolkit,
MMS), so the sides match on any machine. ``--workers N`` sets N instead; ``--workers 0`` leaves every
side to its own default.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from proc_cpu import Pids, Target, anywhere, cpu_rounds, cpu_table, matching, others  # noqa: E402
from tests.support.server import free_port, start_server  # noqa: E402

IMAGE = "modelyard/python:3.11"


def sagemaker_client(url: str):  # type: ignore[no-untyped-def]
    """A boto3 SageMaker client of the benchmark's server at ``url`` (auth off: any credentials)."""
    return boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench")


def build_model(out: Path) -> Path:
    """The shared benchmark model, plus code/requirements.txt (numpy) for modelyard's venv."""
    subprocess.run([sys.executable, str(SHARED / "build_model.py"), str(out)], check=True, capture_output=True)
    model_dir = out / "model"
    (model_dir / "code" / "requirements.txt").write_text("numpy\n")
    with tarfile.open(out / "model.tar.gz", "w:gz") as tar:
        for child in sorted(model_dir.iterdir()):
            tar.add(child, arcname=child.name)
    return model_dir


def low_free_port() -> int:
    """A free port below 32768: multi-model-server refuses larger ones."""
    import random
    import socket

    for port in random.sample(range(20000, 32767), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below 32768")


def wait_http(url: str, timeout: float = 300.0, process: subprocess.Popen | None = None) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout}s")


def deploy(sm, name: str, data: str, capture_to: str | None = None,  # type: ignore[no-untyped-def]
           environment: dict[str, str] | None = None) -> float:
    """Create model/config/endpoint (capturing every call to ``capture_to`` if given); seconds from
    CreateEndpoint to InService."""
    sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::000000000000:role/bench",
                    PrimaryContainer={"Image": IMAGE, "ModelDataUrl": data, "Environment": environment or {}})
    capture = {"DataCaptureConfig": {
        "InitialSamplingPercentage": 100, "DestinationS3Uri": capture_to,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
    }} if capture_to else {}
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
        **capture)
    started = time.monotonic()
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    while True:
        status = sm.describe_endpoint(EndpointName=name)
        if status["EndpointStatus"] == "InService":
            return time.monotonic() - started
        if status["EndpointStatus"] == "Failed":
            raise RuntimeError(status["FailureReason"])
        time.sleep(0.02)


def start_direct(data_dir: Path, model_dir: Path, port: int,  # type: ignore[type-arg]
                 environment: dict[str, str]) -> subprocess.Popen:
    """A second toolkit process from the endpoint's own venv, serving HTTP on ``port``."""
    envs = [p for p in (data_dir / "envs").iterdir() if (p / "bin" / "python").exists()]
    python = str(envs[0] / "bin" / "python")
    env = {**os.environ, "SAGEMAKER_BIND_TO_PORT": str(port), "SAGEMAKER_MODEL_DIR": str(model_dir),
           "MODELYARD_SOCKET": str(data_dir / "direct.sock"), "PYTHONPATH": str(ROOT / "src"), **environment}
    return subprocess.Popen([python, "-m", "modelyard.toolkit", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def compare(args: argparse.Namespace, targets: list[str]) -> None:
    """Paired wrk cycles over ``targets`` (name=url), the first one the reference."""
    command = [sys.executable, str(SHARED / "compare.py"), "--cycles", str(args.cycles), "--dur", str(args.dur),
               "--warmup", str(args.warmup)]
    for target in targets:
        command += ["--target", target]
    comparing = subprocess.Popen(command, start_new_session=True)
    try:
        if comparing.wait():
            raise subprocess.CalledProcessError(comparing.returncode, command)
    finally:
        if comparing.poll() is None:
            os.killpg(comparing.pid, signal.SIGTERM)
            comparing.wait()


def measure_cpu(args: argparse.Namespace, targets: list[str], groups: dict[str, dict[str, Pids]]) -> None:
    """Print each target's CPU µs per request, per process group, over ``--cpu-cycles`` c=8 rounds."""
    if args.cpu_cycles <= 0:
        return
    chosen: dict[str, Target] = {}
    for target in targets:
        name, url = target.split("=", 1)
        chosen[name] = (url, groups[name])
    print(f"\nCPU per request (median of {args.cpu_cycles} rotating c=8 rounds of {args.dur} s, /proc utime+stime; "
          f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})", flush=True)
    print(cpu_table(cpu_rounds(chosen, args.cpu_cycles, args.dur)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--dur", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--no-mms", action="store_true", help="skip the MMS baseline")
    parser.add_argument("--capture", action="store_true", help="compare data capture off and 100 %% only")
    parser.add_argument("--cpu-cycles", type=int, default=3, help="rounds of CPU-per-request measurement (0: none)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="SAGEMAKER_MODEL_SERVER_WORKERS on every side (default: one per core, SageMaker's "
                             "default; 0: unset, each side's own default)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stopped)
    environment = {"SAGEMAKER_MODEL_SERVER_WORKERS": str(args.workers)} if args.workers else {}
    groups: dict[str, dict[str, Pids]] = {}
    processes: list[subprocess.Popen] = []  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        work = Path(tmp)
        model_dir = build_model(work / "bm")
        server = start_server(work / "data", env={"MODELYARD_AUTH": "off"})
        try:
            sm = sagemaker_client(server.url)
            first = deploy(sm, "bench-warm", f"file://{work / 'bm' / 'model.tar.gz'}")
            in_service = deploy(sm, "bench", f"file://{work / 'bm' / 'model.tar.gz'}", environment=environment)
            server_pid = server.process.pid
            toolkit = matching(server_pid, "modelyard.toolkit")
            groups["modelyard"] = {"server": lambda: [server_pid], "toolkit": toolkit,
                                   "other below the server": others(server_pid, toolkit)}
            print(f"CreateEndpoint -> InService: {first:.2f} s (environment built), "
                  f"{in_service:.2f} s (environment already built)", flush=True)
            sm.delete_endpoint(EndpointName="bench-warm")
            if args.capture:
                deploy(sm, "bench-capture", f"file://{work / 'bm' / 'model.tar.gz'}", (work / "captured").as_uri())
                capture_targets = [f"modelyard={server.url}/endpoints/bench/invocations",
                                   f"capture100={server.url}/endpoints/bench-capture/invocations"]
                compare(args, capture_targets)
                groups["capture100"] = groups["modelyard"]
                measure_cpu(args, capture_targets, groups)
                captured = sum(len(p.read_bytes().splitlines()) for p in (work / "captured").rglob("*.jsonl"))
                print(f"records captured in files so far (files rotate every 60 s): {captured}")
                print(server.log()[-2000:] if "dropped" in server.log() else "no capture drops reported")
                return
            targets = []
            if not args.no_mms:
                mms_port = low_free_port()
                mms = subprocess.Popen(["bash", str(SHARED / "mms.sh"), str(model_dir), str(mms_port),
                                        *([str(args.workers)] if args.workers else [])],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
                processes.append(mms)
                wait_http(f"http://127.0.0.1:{mms_port}/ping", 600, mms)
                targets.append(f"mms=http://127.0.0.1:{mms_port}/invocations")
                venv = str(Path(os.environ.get("MODELYARD_BENCH_CACHE") or Path.home() / ".cache" / "modelyard-bench")
                           / "venv-mms")
                groups["mms"] = {"java frontend": anywhere("com.amazonaws.ml.mms.ModelServer", venv),
                                 "python workers": anywhere("model_service_worker", venv),
                                 "mms_serve (idle parent)": lambda: [mms.pid]}
            targets.append(f"modelyard={server.url}/endpoints/bench/invocations")
            direct_port = free_port()
            direct = start_direct(work / "data", model_dir, direct_port, environment)
            processes.append(direct)
            groups["direct"] = {"toolkit": matching(direct.pid, include_root=True)}
            wait_http(f"http://127.0.0.1:{direct_port}/ping")
            targets.append(f"direct=http://127.0.0.1:{direct_port}/invocations")
            ceiling_port = free_port()
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "ceiling:app", "--port", str(ceiling_port), "--loop", "uvloop",
                 "--http", "httptools", "--no-access-log", "--log-level", "warning"],
                cwd=SHARED, env={**os.environ, "MODEL_DIR": str(model_dir)}))
            wait_http(f"http://127.0.0.1:{ceiling_port}/ping")
            ceiling_pid = processes[-1].pid
            groups["ceiling"] = {"uvicorn": lambda: [ceiling_pid]}
            targets.append(f"ceiling=http://127.0.0.1:{ceiling_port}/invocations")
            workers = matching(server_pid, "modelyard.toolkit worker")
            print(f"workers: SAGEMAKER_MODEL_SERVER_WORKERS={args.workers or 'unset'}; worker processes of the "
                  f"endpoint: {len(workers())}, of direct: {len(matching(direct.pid, 'modelyard.toolkit worker')())} "
                  "(0: the handler runs in the toolkit's own process)", flush=True)
            compare(args, targets)
            measure_cpu(args, targets, groups)
        finally:
            for process in processes:
                try:
                    os.killpg(process.pid, 15)
                except (ProcessLookupError, PermissionError):
                    process.terminate()
            server.stop()


def _stopped(signum: int, frame: object) -> None:
    """SIGTERM stops the run the way Ctrl-C does: every process it started is stopped on the way out."""
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    main()
