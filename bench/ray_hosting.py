"""Endpoint instances on a Ray node vs on the server's machine: CreateEndpoint → InService, and invoke
latency and throughput through the server (paired wrk cycles by ../shared/bench/compare.py).

    .venv/bin/python bench/ray_hosting.py [--cycles 3] [--dur 5]

One local Ray cluster (a head started with ``ray start`` on this machine), two servers (auth off, as wrk
does not sign): ``local`` without --ray-address, ``ray`` joined to the cluster. The same scaler model
is deployed on each, twice: the first deploy builds the environments (server and node), the second is
the one timed. On this machine "another node" is the same host: the Ray hop measured is the TCP relay
with its authenticated channel, not a network.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.hosting import deploy as deploy_endpoint  # noqa: E402
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
        subprocess.run([sys.executable, str(COMPARE), "--target", f"local={local.url}/endpoints/bench/invocations",
                        "--target", f"ray={remote.url}/endpoints/bench/invocations", "--cycles", str(args.cycles),
                        "--dur", str(args.dur), "--warmup", "3", "--body", '{"x": [1, 2]}',
                        "--content-type", "application/json"], check=True)
    finally:
        for server in servers:
            server.stop()
        cluster.stop()


if __name__ == "__main__":
    main()
