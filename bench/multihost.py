"""Distributed training: a 2-host XGBoost job's wall time against the same job on 1 host, same data.

    .venv/bin/python bench/multihost.py [--rows 400000] [--files 8] [--num-round 50] [--repeats 2] [--ray] [--json]

The job is examples/distributed-xgboost/code/train.py in the XGBoost framework image (script mode):
every host trains on its ShardedByS3Key share of ``--files`` CSV files (``--rows`` rows, 3 features),
the hosts allreducing histograms through rabit every round. One warm-up job builds the XGBoost
environment first, so no measured job pays for that; then 1-host and 2-host jobs alternate
``--repeats`` times. Every row is printed: the wall time (CreateTrainingJob to Completed, as
DescribeTrainingJob sees it) and the time in the Training secondary status (containers running),
then the medians and the 2-host/1-host ratios. On a machine with fewer cores than the hosts' vCPUs,
the hosts share cores: the ratio shows the cost of distribution there, not a cluster's speed-up.

With ``--ray`` a local two-node Ray cluster is started as tests/ray does (``ray start`` twice on this
machine: node_a and node_b, 2 CPUs and 10 GiB each, so the two ml.m5.large hosts land one per node) with a
second server joined to it, and every repeat also runs the 2-host job there: its hosts' rabit traffic
crosses the job network's frame forwarders (an authenticated TCP tunnel between the nodes) instead of one
bridge. Both nodes share this machine's cores, so the ray row measures the tunnel's and Ray's overhead,
not a cluster's speed-up. The cluster is stopped at the end.

Smoke run (proves the script works, numbers meaningless): ``--rows 2000 --files 2 --num-round 2 --repeats 1``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import numpy as np
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.ray_cluster import RayCluster, start_cluster  # noqa: E402
from tests.support.server import ServerProcess, start_server  # noqa: E402

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::000000000000:role/bench"
SCRIPT = ROOT / "examples" / "distributed-xgboost" / "code" / "train.py"


def write_inputs(root: Path, rows: int, files: int) -> tuple[str, str]:
    """The source tarball and the training channel (file:// URIs)."""
    source = root / "sourcedir.tar.gz"
    with tarfile.open(source, "w:gz") as tar:
        data = SCRIPT.read_bytes()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    rng = np.random.default_rng(0)
    channel = root / "train"
    channel.mkdir()
    for index in range(files):
        features = rng.uniform(-1, 1, size=(rows // files, 3))
        labels = 2 * features[:, 0] + np.sin(3 * features[:, 1]) - features[:, 2] ** 2 + rng.normal(0, 0.05,
                                                                                                    len(features))
        np.savetxt(channel / f"part-{index:03d}.csv", np.column_stack([labels, features]), delimiter=",",
                   fmt="%.5f")
    return f"file://{source}", f"file://{channel}"


def run_job(sm: Any, name: str, source: str, channel: str, output: str, hosts: int, rounds: int,
            where: str = "local") -> dict[str, Any]:
    """Run one job to its end; its wall and Training seconds."""
    started = time.monotonic()
    sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE,
        HyperParameters={"sagemaker_program": '"train.py"', "sagemaker_submit_directory": f'"{source}"',
                         "num-round": str(rounds)},
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": output},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": channel, "S3DataDistributionType": "ShardedByS3Key"}}}],
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": hosts, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 1800})
    while (described := sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] == "InProgress":
        time.sleep(0.2)
    wall = time.monotonic() - started
    if described["TrainingJobStatus"] != "Completed":
        raise SystemExit(f"{name}: {described['TrainingJobStatus']}: {described.get('FailureReason')}")
    training = next(t for t in described["SecondaryStatusTransitions"] if t["Status"] == "Training")
    return {"job": name, "hosts": hosts, "where": where, "wall_seconds": wall,
            "training_seconds": (training["EndTime"] - training["StartTime"]).total_seconds()}


def client(server: ServerProcess) -> Any:
    return boto3.client("sagemaker", endpoint_url=server.url, region_name="us-east-1",
                        config=Config(retries={"max_attempts": 1}), **server.credentials)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--num-round", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--ray", action="store_true", help="also run the 2-host job on a local two-node Ray cluster")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    kinds = [("local", 1), ("local", 2)] + ([("ray", 2)] if args.ray else [])
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp_name:
        tmp = Path(tmp_name)
        source, channel = write_inputs(tmp, args.rows, args.files)
        output = f"file://{tmp / 'out'}"
        servers: dict[str, ServerProcess] = {}
        cluster: RayCluster | None = None
        try:
            servers["local"] = start_server(tmp / "server", env={"MODELYARD_FILE_ROOTS": str(tmp)})
            if args.ray:
                cluster = start_cluster([("node_a", 2, 10), ("node_b", 2, 10)])
                servers["ray"] = start_server(tmp / "ray-server", env={
                    "MODELYARD_FILE_ROOTS": str(tmp), "MODELYARD_RAY_ADDRESS": cluster.address,
                    "MODELYARD_RAY_NODE_DIR": str(tmp / "ray-nodes")})
            stamp = int(time.time()) % 100000
            for where, server in servers.items():
                run_job(client(server), f"bench-mh-warm-{where}-{stamp}", source, channel, output,
                        2 if where == "ray" else 1, 1, where)
            for repeat in range(args.repeats):
                for where, hosts in kinds:
                    rows.append(run_job(client(servers[where]), f"bench-mh-{where}-{hosts}h-{repeat}-{stamp}", source,
                                        channel, output, hosts, args.num_round, where))
                    if not args.json:
                        print(json.dumps(rows[-1]), flush=True)
        finally:
            for server in servers.values():
                server.stop()
            if cluster is not None:
                cluster.stop()
    medians = {f"{where} {hosts}h": {key: statistics.median(r[key] for r in rows
                                                            if r["hosts"] == hosts and r["where"] == where)
                                     for key in ("wall_seconds", "training_seconds")} for where, hosts in kinds}
    base = medians["local 1h"]
    ratios = {kind: {key: values[key] / base[key] for key in values} for kind, values in medians.items()}
    cores, load = os.cpu_count(), os.getloadavg()
    if args.json:
        print(json.dumps({"rows": rows, "medians": medians, "ratio_to_local_1h": ratios, "cores": cores,
                          "load": load, "data_rows": args.rows, "files": args.files,
                          "num_round": args.num_round}, indent=2))
        return
    print(f"XGBoost, {args.rows} rows in {args.files} files (ShardedByS3Key), {args.num_round} rounds; "
          f"{cores} cores, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'job':<32} {'where':>5} {'hosts':>5} {'wall s':>8} {'training s':>11}")
    for row in rows:
        print(f"{row['job']:<32} {row['where']:>5} {row['hosts']:5d} {row['wall_seconds']:8.2f} "
              f"{row['training_seconds']:11.2f}")
    for kind, values in medians.items():
        where, hosts = kind.split()
        print(f"{'median':<32} {where:>5} {hosts[:-1]:>5} {values['wall_seconds']:8.2f} "
              f"{values['training_seconds']:11.2f}")
    for kind, values in ratios.items():
        if kind != "local 1h":
            print(f"{kind} / local 1h: wall {values['wall_seconds']:.2f}x, training {values['training_seconds']:.2f}x")


if __name__ == "__main__":
    main()
