"""Endpoint instances on a Ray node vs on the server's machine: CreateEndpoint → InService, and invoke
latency and throughput through the server (paired wrk cycles by ../shared/bench/compare.py).

    .venv/bin/python bench/ray_hosting.py [--cycles 3] [--dur 5] [--cpu-cycles 3]

One local Ray cluster (a head started with ``ray start`` on this machine), two servers (auth off, as wrk
does not sign): ``local`` without --ray-address, ``ray`` joined to the cluster. The same scaler model
is deployed on each, twice: the first deploy builds the environments (server and node), the second is
the one timed. On this machine "another node" is the same host: the Ray hop measured is the TCP relay
with its authenticated channel, not a network.

After the paired table, ``--cpu-cycles`` rotating c=8 rounds measure the CPU time per request of each
process on the path (bench/proc_cpu.py): the server and its toolkit for ``local``; the server, the
instance's Ray actor (where the relay runs) and the toolkit under it for ``ray``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.hosting import deploy as deploy_endpoint  # noqa: E402
from bench.proc_cpu import Pids, anywhere, cpu_rounds, cpu_table, matching  # noqa: E402
from tests.hosting.models import scaler_model  # noqa: E402
from tests.support.ray_cluster import start_cluster  # noqa: E402
from tests.support.server import ServerProcess, start_server  # noqa: E402

COMPARE = ROOT.parent / "shared" / "bench" / "compare.py"


def deploy(server: ServerProcess, name: str, data: str) -> float:
    """Deploy ``data`` as ``name`` (``bench.hosting.deploy``); seconds from CreateEndpoint to InService."""
    sm = boto3.client("sagemaker", endpoint_url=server.url, region_name="us-east-1",
                      aws_access_key_id="x", aws_secret_access_key="x")
    return deploy_endpoint(sm, name, data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--dur", type=int, default=5)
    parser.add_argument("--cpu-cycles", type=int, default=3, help="rounds of CPU-per-request measurement (0: none)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="raybench"))
    artifact = scaler_model(base / "model")
    cluster = start_cluster([("node_a", 4, 20)])
    servers: list[ServerProcess] = []
    try:
        auth_off = {"MODELYARD_AUTH": "off"}
        local = start_server(base / "local", env=auth_off)
        servers.append(local)
        remote = start_server(base / "ray", env={**auth_off, "MODELYARD_RAY_ADDRESS": cluster.address,
                                                 "MODELYARD_RAY_NODE_DIR": str(base / "nodes")})
        servers.append(remote)
        for label, server in (("local", local), ("ray", remote)):
            first = deploy(server, "warm", f"file://{artifact}")
            second = deploy(server, "bench", f"file://{artifact}")
            print(f"{label}: CreateEndpoint → InService {first:.2f} s (environment built), {second:.2f} s (built)")
            boto3.client("sagemaker", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="x",
                         aws_secret_access_key="x").delete_endpoint(EndpointName="warm")
        body = '{"x": [1, 2]}'
        subprocess.run([sys.executable, str(COMPARE), "--target", f"local={local.url}/endpoints/bench/invocations",
                        "--target", f"ray={remote.url}/endpoints/bench/invocations", "--cycles", str(args.cycles),
                        "--dur", str(args.dur), "--warmup", "3", "--body", body,
                        "--content-type", "application/json"], check=True)
        if args.cpu_cycles > 0:
            measure_cpu(args, local, remote, body)
    finally:
        for server in servers:
            server.stop()
        cluster.stop()


def measure_cpu(args: argparse.Namespace, local: ServerProcess, remote: ServerProcess, body: str) -> None:
    """Print CPU µs per request of every process on each path, median of ``--cpu-cycles`` c=8 rounds."""
    actor = anywhere("ray::InstanceHost")

    def toolkit_under_actor() -> list[int]:
        return [pid for host in actor() for pid in matching(host, "modelyard.toolkit")()]

    local_pid, remote_pid = local.process.pid, remote.process.pid
    groups: dict[str, dict[str, Pids]] = {
        "local": {"server": lambda: [local_pid], "toolkit": matching(local_pid, "modelyard.toolkit")},
        "ray": {"server": lambda: [remote_pid], "Ray actor (relay)": actor, "toolkit": toolkit_under_actor},
    }
    targets = {"local": (f"{local.url}/endpoints/bench/invocations", groups["local"]),
               "ray": (f"{remote.url}/endpoints/bench/invocations", groups["ray"])}
    print(f"\nCPU per request (median of {args.cpu_cycles} rotating c=8 rounds of {args.dur} s, /proc utime+stime; "
          f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})", flush=True)
    print(cpu_table(cpu_rounds(targets, args.cpu_cycles, args.dur, body, "application/json")), flush=True)


if __name__ == "__main__":
    main()
