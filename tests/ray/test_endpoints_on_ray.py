"""Endpoints on a real local Ray cluster: a head (resource node_a) and a second node (node_b) started
with ``ray start`` on this machine, one modelyard server process joined to it, real boto3 clients.

The tests run in order and share the cluster; the last one kills node_b."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from modelyard.hosting import channel
from modelyard.toolkit import framing
from tests.conftest import client_for
from tests.hosting.models import deploy, scaler_model, wait_for_status
from tests.support.ray_cluster import RayCluster, start_cluster
from tests.support.server import ServerProcess, start_server

PLACED = re.compile(r"placed on Ray node ([0-9a-f]+); authenticated channel at ([\d.]+):(\d+)")
SAGEMAKER_ERRORS = {"ServiceUnavailable", "ModelError"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    started = start_cluster([("node_a", 4, 20), ("node_b", 2, 10)])
    yield started
    started.stop()


@pytest.fixture(scope="module")
def ray_server(cluster: RayCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("ray")
    server = start_server(base / "data", env={"MODELYARD_RAY_ADDRESS": cluster.address,
                                              "MODELYARD_RAY_NODE_DIR": str(base / "nodes"),
                                              "MODELYARD_INVOKE_TIMEOUT_SECONDS": "20"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def endpoint(ray_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A two-instance endpoint of the scaler model (ml.m5.large: 2 CPUs, 8 GiB each)."""
    name = f"ray{secrets.token_hex(4)}"
    described = deploy(client_for(ray_server, "sagemaker"), name,
                       f"file://{scaler_model(tmp_path_factory.mktemp('model'), scale=3.0)}", count=2)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return name


def placements(server: ServerProcess, name: str) -> dict[str, tuple[str, str, int]]:
    """Instance id → (node id, relay address, relay port), from each instance's log stream."""
    logs = client_for(server, "logs")
    group = f"/aws/sagemaker/Endpoints/{name}"
    found = {}
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                                     startFromHead=True)["events"]
        for event in events:
            match = PLACED.search(event["message"])
            if match:
                found[stream["logStreamName"].split("/")[-1]] = (match[1], match[2], int(match[3]))
    return found


def invoke(server: ServerProcess, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = client_for(server, "sagemaker-runtime").invoke_endpoint(
        EndpointName=name, ContentType="application/json", Body=json.dumps(payload))
    return json.loads(response["Body"].read())  # type: ignore[no-any-return]


def maps_ray(pid: int) -> bool:
    """Whether Ray's native core is loaded in process ``pid`` (its shared object is mapped)."""
    return "_raylet" in Path(f"/proc/{pid}/maps").read_text()


def test_without_ray_address_nothing_of_ray_is_loaded(ray_server: ServerProcess, tmp_path: Path) -> None:
    plain = start_server(tmp_path / "plain")
    try:
        assert not maps_ray(plain.process.pid)
        assert "everything runs on this machine" in plain.log()
    finally:
        plain.stop()
    assert maps_ray(ray_server.process.pid)
    assert "Ray places single-container endpoint instances only; jobs run on this machine" in ray_server.log()


def test_two_instances_land_one_per_node_and_answer(cluster: RayCluster, ray_server: ServerProcess,
                                                    endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    placed = placements(ray_server, endpoint)
    names = cluster.node_ids()
    assert len(placed) == 2
    assert sorted(names[node] for node, _, _ in placed.values()) == ["node_a", "node_b"]
    answered = {invoke(ray_server, endpoint, {"x": [1, 2]})["instance"] for _ in range(12)}
    assert answered == set(placed)
    assert invoke(ray_server, endpoint, {"x": [2]})["y"] == [6.0]
    nodes_dir = Path(str(ray_server.data_dir)).parent / "nodes"
    for instance_id, (node, _, _) in placed.items():
        assert (nodes_dir / node[:16] / "instances" / instance_id / "model" / "weights.json").is_file()
    assert not (ray_server.data_dir / "instances").exists() or not any(
        (ray_server.data_dir / "instances").rglob("i-*"))


def test_the_instances_output_reaches_cloudwatch_logs(ray_server: ServerProcess, endpoint: str) -> None:
    with pytest.raises(ClientError) as info:
        invoke(ray_server, endpoint, {"x": [1], "fail": "no coefficients"})
    assert info.value.response["Error"]["Code"] == "ModelError"
    logs = client_for(ray_server, "logs")
    deadline = time.monotonic() + 10
    while True:
        found = logs.filter_log_events(logGroupName=f"/aws/sagemaker/Endpoints/{endpoint}",
                                       filterPattern='"no coefficients"')["events"]
        if found:
            break
        assert time.monotonic() < deadline, "the handler's traceback never reached the log group"
        time.sleep(0.3)


def test_the_channel_refuses_clients_without_the_secret(ray_server: ServerProcess, endpoint: str) -> None:
    frame = framing.encode_frame(framing.request_header(framing.OP_INVOKE, "application/json"),
                                 b'{"x": [1], "exit": true}')
    for _, address, port in placements(ray_server, endpoint).values():
        with socket.create_connection((address, port), timeout=10) as raw:
            raw.sendall(frame)
            raw.settimeout(10)
            received = b""
            while chunk := raw.recv(65536):
                received += chunk
            assert received == b""

        async def wrong_secret(address: str = address, port: int = port) -> None:
            await channel.connect(address, port, secrets.token_bytes(32))

        with pytest.raises(channel.ChannelRefused):
            asyncio.run(wrong_secret())
    assert {invoke(ray_server, endpoint, {"x": [1]})["instance"] for _ in range(8)} == set(
        placements(ray_server, endpoint))


def test_an_instance_type_no_node_can_hold_fails_with_the_numbers(ray_server: ServerProcess,
                                                                  tmp_path: Path) -> None:
    sm = client_for(ray_server, "sagemaker")
    name = f"big{secrets.token_hex(4)}"
    deploy(sm, name, f"file://{scaler_model(tmp_path)}", wait=False, variants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.4xlarge"}])
    described = wait_for_status(sm, name, timeout=120)
    assert described["EndpointStatus"] == "Failed"
    assert "No node of the Ray cluster can ever hold an instance of type ml.m5.4xlarge" in \
        described["FailureReason"]
    assert "16 CPUs, 64 GiB memory" in described["FailureReason"]
    sm.delete_endpoint(EndpointName=name)


def test_node_loss_replaces_the_instance_on_a_surviving_node(cluster: RayCluster, ray_server: ServerProcess,
                                                             endpoint: str) -> None:
    names = cluster.node_ids()
    before = placements(ray_server, endpoint)
    lost = [i for i, (node, _, _) in before.items() if names[node] == "node_b"]
    outcomes: list[tuple[str, float]] = []

    def in_flight() -> None:
        began = time.monotonic()
        try:
            invoke(ray_server, endpoint, {"x": [1], "sleep": 4})
            outcomes.append(("answered", time.monotonic() - began))
        except ClientError as exc:
            outcomes.append((exc.response["Error"]["Code"], time.monotonic() - began))

    callers = [threading.Thread(target=in_flight) for _ in range(2)]
    for caller in callers:
        caller.start()
    time.sleep(1.5)
    raylet = cluster.raylet_pid("node_b")
    killed = time.monotonic()
    os.kill(raylet, signal.SIGKILL)
    for caller in callers:
        caller.join(60)
    assert not any(caller.is_alive() for caller in callers), "an in-flight invocation hung"
    assert len(outcomes) == 2
    assert all(code == "answered" or code in SAGEMAKER_ERRORS for code, _ in outcomes), outcomes

    deadline = killed + 90
    while True:
        after = placements(ray_server, endpoint)
        replacements = {i: p for i, p in after.items() if i not in before}
        if replacements:
            try:
                answered = {invoke(ray_server, endpoint, {"x": [1]})["instance"] for _ in range(8)}
            except ClientError:
                answered = set()
            if answered == (set(before) - set(lost)) | set(replacements):
                break
        assert time.monotonic() < deadline, f"no replacement serving 90 s after the node loss: {after}"
        time.sleep(0.5)
    assert [names.get(node) for node, _, _ in replacements.values()] == ["node_a"]
    print(f"node loss → both instances serving again after {time.monotonic() - killed:.1f} s; "
          f"in-flight outcomes {outcomes}")
    assert client_for(ray_server, "sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == \
        "InService"
