"""Multi-host training and processing jobs on a real local Ray cluster (two nodes started with
``ray start``, one modelyard server joined to it, real boto3 clients, real sandboxes): the hosts land on
different nodes and exchange data over the job network that spans them (the frame forwarders'
authenticated tunnel); shards, logs and metrics per host; one host failing fails the job and stops the
other; another job's hosts cannot reach them; the forwarders refuse clients without the job's secret;
an InstanceCount the cluster can never hold fails at once with the numbers."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard.hosting import channel
from tests.conftest import client_for
from tests.jobs_e2e.jobs_support import BUCKET, put, read_tarball, sourcedir, training_request
from tests.jobs_e2e.multihost_scripts import (
    HOST_SCRIPT,
    check_sharded_processing,
    sharded_talk,
    start_sharded_processing,
    two_hosts,
)
from tests.support.ray_cluster import RayCluster, start_cluster
from tests.support.server import ServerProcess, start_server

GROUP = "/aws/sagemaker/TrainingJobs"
FORWARDER = re.compile(r"job network: (algo-\d)'s frame forwarder on Ray node ([0-9a-f]+) at ([\d.]+):(\d+)")
TERMINAL = ("Completed", "Failed", "Stopped")


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    started = start_cluster([("node_a", 4, 20), ("node_b", 4, 20)])
    yield started
    started.stop()


@pytest.fixture(scope="module")
def server(cluster: RayCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("raymh")
    started = start_server(base / "data", env={"MODELYARD_RAY_ADDRESS": cluster.address,
                                               "MODELYARD_RAY_NODE_DIR": str(base / "nodes")})
    client_for(started, "s3").create_bucket(Bucket=BUCKET)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def source(server: ServerProcess) -> str:
    return put(client_for(server, "s3"), "code/multihost/sourcedir.tar.gz", sourcedir({"host.py": HOST_SCRIPT}))


def wait(describe: Any, field: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (described := describe())[field] not in TERMINAL:
        assert time.monotonic() < deadline, described
        time.sleep(0.5)
    return described  # type: ignore[no-any-return]


def wait_training(sm: Any, name: str, timeout: float = 300) -> dict[str, Any]:
    return wait(lambda: sm.describe_training_job(TrainingJobName=name), "TrainingJobStatus", timeout)


def host_lines(server: ServerProcess, name: str, group: str = GROUP) -> dict[str, list[str]]:
    """Host → its log stream's lines."""
    logs = client_for(server, "logs")
    found = {}
    for stream in logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/")["logStreams"]:
        host = stream["logStreamName"].split("/")[1].rsplit("-", 1)[0]
        found[host] = [e["message"] for e in logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True)["events"]]
    return found


def nodes_of(cluster: RayCluster, lines: dict[str, list[str]]) -> dict[str, str]:
    """Host → the name of the node it ran on (node_a / node_b)."""
    names = cluster.node_ids()
    return {host: names[next(line for line in found if "running on Ray node" in line).split()[-1]]
            for host, found in lines.items()}


def listening(server: ServerProcess, name: str) -> dict[str, list[str]]:
    """Wait until both hosts of ``name`` (mode listen) listen; their log lines."""
    deadline = time.monotonic() + 240
    while True:
        lines = host_lines(server, name)
        if sum("listening" in found for found in lines.values()) == 2:
            return lines
        assert time.monotonic() < deadline, lines
        time.sleep(0.5)


def model_of(server: ServerProcess, name: str) -> dict[str, Any]:
    body = client_for(server, "s3").get_object(Bucket=BUCKET, Key=f"mh-out/{name}/output/model.tar.gz")["Body"].read()
    return json.loads(read_tarball(body)["reports.json"])  # type: ignore[no-any-return]


def test_two_hosts_on_two_nodes_talk_by_name_and_get_their_shards(cluster, server, source) -> None:  # type: ignore[no-untyped-def]
    s3, sm = client_for(server, "s3"), client_for(server, "sagemaker")
    name = f"rmh{secrets.token_hex(4)}"
    sm.create_training_job(**sharded_talk(s3, name, source, ("a",)))
    described = wait_training(sm, name)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")

    lines = host_lines(server, name)
    assert sorted(lines) == ["algo-1", "algo-2"]
    assert sorted(nodes_of(cluster, lines).values()) == ["node_a", "node_b"], nodes_of(cluster, lines)
    for host in ("algo-1", "algo-2"):
        assert f"{host} done with 1 peers" in lines[host], lines[host]
    model = model_of(server, name)
    assert model["written_by"] == "algo-1"
    reports = {report["host"]: report for report in model["reports"]}
    for index, host in enumerate(["algo-1", "algo-2"]):
        report = reports[host]
        assert report["hostname"] == host
        assert report["address"] == f"10.0.1.{index + 2}"
        assert report["resource"]["current_host"] == host
        assert report["resource"]["hosts"] == ["algo-1", "algo-2"]
        assert report["resource"]["network_interface_name"] == "eth0"
        assert json.loads(report["env"]["SM_HOSTS"]) == ["algo-1", "algo-2"]
        assert report["env"]["SM_CURRENT_HOST"] == host
        assert {k for k in report["files"] if k.startswith("shared/")} == {"shared/a.csv"}
    shards = {host: sorted(k for k in reports[host]["files"] if k.startswith("sharded/")) for host in reports}
    assert shards == {"algo-1": ["sharded/part-0.csv", "sharded/part-2.csv", "sharded/part-4.csv"],
                      "algo-2": ["sharded/part-1.csv", "sharded/part-3.csv"]}
    assert described["FinalMetricDataList"][0]["Value"] == 1.0


XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "distributed-xgboost" / "code" / "train.py"


@pytest.mark.timeout(900)  # the first job builds the XGBoost environment on each node
def test_xgboost_allreduces_through_rabit_across_the_nodes(cluster, server) -> None:  # type: ignore[no-untyped-def]
    s3, sm = client_for(server, "s3"), client_for(server, "sagemaker")
    name = f"rmx{secrets.token_hex(4)}"
    code = put(s3, f"{name}/sourcedir.tar.gz", sourcedir({"train.py": EXAMPLE.read_text()}))
    for index in range(4):
        rows = "\n".join(f"{(i % 7) * 0.5 + index},{i % 7},{i % 3},{index}" for i in range(500))
        put(s3, f"{name}/train/part-{index}.csv", rows + "\n")
    request = training_request(name, program="train.py", submit=code, output=f"s3://{BUCKET}/mh-out", image=XGBOOST,
                               channels={"train": f"s3://{BUCKET}/{name}/train/"},
                               hyperparameters={"num-round": "5"}, max_runtime=900)
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"] = "ShardedByS3Key"
    request["ResourceConfig"]["InstanceCount"] = 2
    sm.create_training_job(**request)
    described = wait_training(sm, name, 850)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    lines = host_lines(server, name)
    assert sorted(nodes_of(cluster, lines).values()) == ["node_a", "node_b"]
    assert "algo-1: rank 0 of 2, 1000 local rows, 2000 rows on all hosts" in lines["algo-1"], lines["algo-1"]
    assert "algo-2: rank 1 of 2, 1000 local rows, 2000 rows on all hosts" in lines["algo-2"], lines["algo-2"]
    body = s3.get_object(Bucket=BUCKET, Key=f"mh-out/{name}/output/model.tar.gz")["Body"].read()
    assert "xgboost-model" in read_tarball(body)


def test_processing_on_two_nodes_shards_inputs_and_uploads_every_hosts_output(cluster, server) -> None:  # type: ignore[no-untyped-def]
    s3, sm = client_for(server, "s3"), client_for(server, "sagemaker")
    name = f"rmp{secrets.token_hex(4)}"
    start_sharded_processing(s3, sm, name)
    described = wait(lambda: sm.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus")
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    lines = host_lines(server, name, "/aws/sagemaker/ProcessingJobs")
    assert sorted(nodes_of(cluster, lines).values()) == ["node_a", "node_b"]
    check_sharded_processing(s3, name)


def test_network_isolation_keeps_the_hosts_together_across_nodes_and_everything_else_out(server, source) -> None:  # type: ignore[no-untyped-def]
    sm = client_for(server, "sagemaker")
    name = f"rmi{secrets.token_hex(4)}"
    port = server.url.rsplit(":", 1)[1]
    sm.create_training_job(**two_hosts(name, source, "reach", EnableNetworkIsolation=True,
                                       hyperparameters={"targets": f"127.0.0.1:{port},10.0.2.2:{port},1.1.1.1:80"}))
    described = wait_training(sm, name)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    for report in model_of(server, name)["reports"]:
        assert "connected" not in report["reached"].values(), report["reached"]


def test_one_failing_host_fails_the_job_with_its_reason_and_stops_the_other(server, source) -> None:  # type: ignore[no-untyped-def]
    sm = client_for(server, "sagemaker")
    name = f"rmf{secrets.token_hex(4)}"
    sm.create_training_job(**two_hosts(name, source, "fail-2", hyperparameters={"targets": name}))
    while "Training" not in [t["Status"] for t in sm.describe_training_job(TrainingJobName=name)[
            "SecondaryStatusTransitions"]]:
        time.sleep(0.5)
    began = time.monotonic()
    described = wait_training(sm, name)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("AlgorithmError: algo-2: ExecuteUserScriptError"), \
        described["FailureReason"]
    assert "ValueError: algo-2 broke on purpose" in described["FailureReason"]
    assert time.monotonic() - began < 120, "algo-1 (sleeping 600 s) was not stopped"
    assert "ModelArtifacts" not in described
    gone(name)


async def refused(host: str, port: int) -> list[str]:
    """What the forwarder at ``host:port`` does with a wrong secret and with raw frames (no handshake)."""
    outcomes = []
    try:
        await channel.connect(host, port, channel.new_secret())
        outcomes.append("wrong secret accepted")
    except (channel.ChannelRefused, OSError) as exc:
        outcomes.append(type(exc).__name__)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"\x00\x40" + b"\xff" * 64 + b"\x00" * 16)
    await writer.drain()
    try:
        answer = await asyncio.wait_for(reader.read(), 8)
    except ConnectionError:
        answer = b""
    outcomes.append("closed" if answer == b"" else f"answered {answer!r}")
    writer.close()
    return outcomes


def test_other_jobs_and_strangers_cannot_reach_a_jobs_hosts(server, source) -> None:  # type: ignore[no-untyped-def]
    sm = client_for(server, "sagemaker")
    listener = f"rml{secrets.token_hex(4)}"
    sm.create_training_job(**two_hosts(listener, source, "listen", hyperparameters={"port": "7501"}))
    lines = listening(server, listener)
    forwarders = [FORWARDER.search(line) for found in lines.values() for line in found]
    addresses = [(match[3], int(match[4])) for match in forwarders if match]
    assert len(addresses) == 2, lines
    for host, port in addresses:
        assert asyncio.run(refused(host, port)) == ["ChannelRefused", "closed"]

    prober = f"rmr{secrets.token_hex(4)}"
    sm.create_training_job(**two_hosts(prober, source, "reach",
                                       hyperparameters={"targets": "10.0.1.2:7501,10.0.1.3:7501"}))
    described = wait_training(sm, prober)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    for report in model_of(server, prober)["reports"]:
        assert report["reached"] == {"10.0.1.2:7501": "ConnectionRefusedError",
                                     "10.0.1.3:7501": "ConnectionRefusedError"}, report["reached"]
    assert sm.describe_training_job(TrainingJobName=listener)["TrainingJobStatus"] == "InProgress"
    sm.stop_training_job(TrainingJobName=listener)
    assert wait_training(sm, listener, 120)["TrainingJobStatus"] == "Stopped"


@pytest.mark.parametrize("count, instance_type, words", [
    (5, "ml.m5.large", "5 hosts need 5 x 2 CPUs, 8 GiB memory at once, and the live nodes (4 CPUs, 20 GiB memory; "
                       "4 CPUs, 20 GiB memory) hold at most 4 of them: use an InstanceCount of at most 4"),
    (3, "ml.m5.xlarge", "hold at most 2 of them"),
])
def test_an_instance_count_the_cluster_can_never_hold_is_refused_at_create_with_the_numbers(  # type: ignore[no-untyped-def]
        server, source, count, instance_type, words) -> None:
    """The cluster's live nodes are asked at create (this 2-core machine alone would hold only 2 hosts: the
    refusal names the cluster's numbers, not the machine's), and nothing is stored."""
    from botocore.exceptions import ClientError

    sm = client_for(server, "sagemaker")
    name = f"rmc{secrets.token_hex(4)}"
    request = two_hosts(name, source, "talk")
    request["ResourceConfig"].update(InstanceCount=count, InstanceType=instance_type)
    with pytest.raises(ClientError) as info:
        sm.create_training_job(**request)
    error = info.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith(f"ResourceConfig.InstanceCount {count} of {instance_type}: no node of the Ray "
                                       "cluster can ever hold them: "), error["Message"]
    assert words in error["Message"], error["Message"]
    with pytest.raises(ClientError):
        sm.describe_training_job(TrainingJobName=name)


def test_a_processing_job_beyond_the_cluster_is_refused_and_one_within_it_is_accepted(server) -> None:  # type: ignore[no-untyped-def]
    """3 x ml.m5.large fit the two 4-CPU nodes though this machine has 2 cores: accepted (and stopped);
    9 do not fit: refused with the cluster's numbers."""
    from botocore.exceptions import ClientError

    sm = client_for(server, "sagemaker")

    def create(name: str, count: int) -> None:
        sm.create_processing_job(
            ProcessingJobName=name, RoleArn="arn:aws:iam::000000000000:role/modelyard",
            AppSpecification={"ImageUri": "modelyard/python:3.11", "ContainerEntrypoint": ["python3", "-c", "pass"]},
            ProcessingResources={"ClusterConfig": {"InstanceCount": count, "InstanceType": "ml.m5.large",
                                                   "VolumeSizeInGB": 5}})

    with pytest.raises(ClientError) as info:
        create(f"rpc{secrets.token_hex(4)}", 9)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "ProcessingResources.ClusterConfig.InstanceCount 9 of ml.m5.large: no node of the Ray cluster can " \
           "ever hold them: 9 hosts need 9 x 2 CPUs" in info.value.response["Error"]["Message"]
    accepted = f"rpa{secrets.token_hex(4)}"
    create(accepted, 3)
    sm.stop_processing_job(ProcessingJobName=accepted)
    wait(lambda: sm.describe_processing_job(ProcessingJobName=accepted), "ProcessingJobStatus", 240)


def test_traffic_encryption_is_refused_for_a_multihost_job_on_the_cluster(server, source) -> None:  # type: ignore[no-untyped-def]
    from botocore.exceptions import ClientError

    sm = client_for(server, "sagemaker")
    with pytest.raises(ClientError) as info:
        sm.create_training_job(**two_hosts(f"rme{secrets.token_hex(4)}", source, "talk",
                                           EnableInterContainerTrafficEncryption=True))
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "authenticated but unencrypted tunnel" in info.value.response["Error"]["Message"]


def test_a_lost_node_fails_the_job_naming_the_node_and_host_and_stops_the_other(cluster, server, source) -> None:  # type: ignore[no-untyped-def]
    """Last: kills node_b."""
    sm = client_for(server, "sagemaker")
    name = f"rmn{secrets.token_hex(4)}"
    sm.create_training_job(**two_hosts(name, source, "listen", hyperparameters={"port": "7502", "targets": name}))
    lines = listening(server, name)
    on = nodes_of(cluster, lines)
    lost = next(host for host, node in on.items() if node == "node_b")
    node = next(line for line in lines[lost] if "running on Ray node" in line).split()[-1]
    killed = time.monotonic()
    os.kill(cluster.raylet_pid("node_b"), signal.SIGKILL)
    described = wait_training(sm, name, 120)
    assert time.monotonic() - killed < 60
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith(
        f"InternalServerError: the Ray node {node} running the training container of {lost} was lost"), \
        described["FailureReason"]
    gone(name)


def gone(name: str) -> None:
    """Wait (up to 30 s) until no process of this machine has ``name`` (the job's, passed to its hosts as
    an argument) on its command line."""
    deadline = time.monotonic() + 30
    while running := [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and name.encode() in cmdline(p)]:
        assert time.monotonic() < deadline, f"hosts of {name} still run: {running}"
        time.sleep(0.5)


def cmdline(process: Path) -> bytes:
    try:
        return (process / "cmdline").read_bytes()
    except OSError:
        return b""
