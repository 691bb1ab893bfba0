"""Models that break their container's limits, through a real server: each fails alone, says why in its
log and answers ModelError, while the other models and the server keep serving; groups go with them.

The server gives every instance 400 MiB and 1 CPU core (``MODELYARD_MEMORY_LIMIT_MB``,
``MODELYARD_CPU_LIMIT``). Skipped, with the reason, where the host has no usable cgroups.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from modelyard.runtime.cgroups import cgroup_tree
from tests.conftest import client_for
from tests.hosting.models import deploy, endpoint_pids, package, scaler_model
from tests.support.server import ServerProcess, start_server

HUNGRY = '''
import json, os, time

HOLD = []

def model_fn(model_dir, context=None):
    HOLD.append(b"x" * (60 << 20))
    return {}

def input_fn(body, content_type):
    return json.loads(body or b"{}")

def predict_fn(data, model):
    if data.get("allocate_mb"):
        HOLD.append(b"x" * (data["allocate_mb"] << 20))
    if data.get("fork_allocate_mb"):
        child = os.fork()
        if child == 0:
            HOLD.append(b"x" * (data["fork_allocate_mb"] << 20))
            time.sleep(30)
            os._exit(0)
        HOLD.append(b"x" * (data["fork_allocate_mb"] << 20))
        os.waitpid(child, 0)
        time.sleep(3)  # still mid-invocation when the watchdog sees the OOM kill (v1 kills one process)
    if data.get("spin"):
        for _ in range(data["spin"]):
            if os.fork() == 0:
                while True:
                    pass
    return {"pid": os.getpid()}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose instances get 400 MiB and one core, on a host with usable cgroups."""
    tree, note = cgroup_tree()
    if tree is None:
        pytest.skip(f"no usable cgroups on this host ({note}): containers get rlimits, not group limits")
    server = start_server(tmp_path_factory.mktemp("breaches"),
                          env={"MODELYARD_MEMORY_LIMIT_MB": "400", "MODELYARD_CPU_LIMIT": "1"})
    yield server
    server.stop()


def _groups(pid: int) -> dict[str, Path]:
    """The cgroup directories (per v1 controller, or ``unified``) the process ``pid`` is in."""
    mounts = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        head, _, tail = line.partition(" - ")
        fields, rest = head.split(), tail.split()
        if rest and rest[0] == "cgroup":
            for option in rest[2].split(","):
                mounts[option] = fields[4]
        elif rest and rest[0] == "cgroup2":
            mounts["unified"] = fields[4]
    groups = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        for name in (names.split(",") if names else ["unified"]):
            if name in mounts:
                groups[name] = Path(mounts[name]) / path.lstrip("/")
    return groups


def _cpu_usage_ns(groups: dict[str, Path]) -> int:
    if "cpuacct" in groups and (groups["cpuacct"] / "cpuacct.usage").exists():
        return int((groups["cpuacct"] / "cpuacct.usage").read_text())
    stat = dict(line.split() for line in (groups["unified"] / "cpu.stat").read_text().splitlines())
    return int(stat["usage_usec"]) * 1000


def _log_text(server: ServerProcess, name: str) -> str:
    logs = client_for(server, "logs")
    events = logs.filter_log_events(logGroupName=f"/aws/sagemaker/Endpoints/{name}")["events"]
    return "\n".join(event["message"] for event in events)


def _invoke(runtime: Any, name: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = runtime.invoke_endpoint(EndpointName=name, Body=json.dumps(body), ContentType="application/json")
    result: dict[str, Any] = json.loads(answer["Body"].read())
    return result


def _wait_gone(paths: list[Path], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while any(path.exists() for path in paths) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(path.exists() for path in paths), [str(p) for p in paths if p.exists()]


def test_a_busy_model_gets_one_core_and_its_group_goes_with_it(server: ServerProcess, tmp_path: Path) -> None:
    sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
    name = "busy-model"
    described = deploy(sm, name, f"file://{package(tmp_path, {'code/inference.py': HUNGRY})}")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert "limits (cgroup" in _log_text(server, name), "the instance's log names the mechanism"
    _invoke(runtime, name, {"spin": 3})
    pids = endpoint_pids(name)
    assert pids, "the instance runs"
    groups = _groups(pids[0])
    container_groups = [path for path in groups.values() if "/modelyard/" in str(path)]
    assert container_groups, f"the model's processes are in a modelyard group: {groups}"
    time.sleep(0.5)
    before, start = _cpu_usage_ns(groups), time.monotonic()
    time.sleep(3.0)
    cores = (_cpu_usage_ns(groups) - before) / 1e9 / (time.monotonic() - start)
    assert cores <= 1.25, f"4 busy processes of a 1-core instance used {cores:.2f} cores"
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    sm.delete_endpoint(EndpointName=name)
    _wait_gone(container_groups)


def test_workers_over_the_memory_limit_fail_alone_with_a_model_error(server: ServerProcess, tmp_path: Path) -> None:
    sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
    other = deploy(sm, "steady-model", f"file://{scaler_model(tmp_path / 'other')}")
    assert other["EndpointStatus"] == "InService", other.get("FailureReason")
    name = "pool-model"
    described = deploy(sm, name, f"file://{package(tmp_path / 'pool', {'code/inference.py': HUNGRY})}",
                       env={"SAGEMAKER_MODEL_SERVER_WORKERS": "3"})
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    pids = endpoint_pids(name)
    container_groups = [path for path in _groups(pids[0]).values() if "/modelyard/" in str(path)]

    with pytest.raises(ClientError) as info:
        _invoke(runtime, name, {"allocate_mb": 250})
    assert info.value.response["Error"]["Code"] == "ModelError", info.value.response
    assert _invoke(runtime, "steady-model", {"x": [1, 2]})["y"] == [2.0, 4.0], "the other model keeps serving"
    deadline = time.monotonic() + 20
    while "killed for exceeding its memory limit of 400 MiB" not in _log_text(server, name):
        assert time.monotonic() < deadline, _log_text(server, name)
        time.sleep(0.3)
    _wait_gone(container_groups)
    assert server.process.poll() is None


def test_a_model_killed_mid_invocation_answers_a_model_error_naming_the_limit(
    server: ServerProcess, tmp_path: Path
) -> None:
    sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
    name = "forking-model"
    described = deploy(sm, name, f"file://{package(tmp_path, {'code/inference.py': HUNGRY})}")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    with pytest.raises(ClientError) as info:
        _invoke(runtime, name, {"fork_allocate_mb": 250})
    error = info.value.response
    assert error["Error"]["Code"] == "ModelError", error
    assert "killed for exceeding its memory limit" in error.get("OriginalMessage", ""), error
