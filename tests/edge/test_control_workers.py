"""Search runs in the control worker process, not on the server's threads: the worker exists at the
lowest CPU priority, answers with the server's data, and a killed worker costs at most one request."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.runtime.cgroups import _weigh_servers, cgroup_tree
from tests.conftest import client_for
from tests.hosting.models import deploy, endpoint_pids, scaler_model
from tests.support.aws_errors import code
from tests.support.server import ServerProcess, start_server


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def control_worker(server: ServerProcess) -> int:
    """The pid of the server's control worker (the only child at nice 19), waiting for it to start."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for pid in children(server.process.pid):
            try:
                if os.getpriority(os.PRIO_PROCESS, pid) == 19:
                    return pid
            except OSError:
                continue
        time.sleep(0.1)
    raise AssertionError("no control worker process at nice 19")


@pytest.fixture()
def own_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = start_server(tmp_path / "data")
    yield server
    server.stop()


def search_groups(sm) -> list[str]:  # type: ignore[no-untyped-def]
    result = sm.search(Resource="ModelPackageGroup", SortBy="ModelPackageGroupName", SortOrder="Ascending")
    return [r["ModelPackageGroup"]["ModelPackageGroupName"] for r in result["Results"]]


def test_search_is_answered_by_the_low_priority_worker(own_server: ServerProcess) -> None:
    sm = client_for(own_server, "sagemaker")
    for name in ("beta", "alpha"):
        sm.create_model_package_group(ModelPackageGroupName=name)
    worker = control_worker(own_server)
    assert os.sched_getscheduler(worker) == os.SCHED_BATCH
    assert search_groups(sm) == ["alpha", "beta"]
    sm.create_model_package_group(ModelPackageGroupName="gamma")
    assert search_groups(sm) == ["alpha", "beta", "gamma"]  # the worker reads the store, not a copy


@contextlib.contextmanager
def busy_host(processes: int, seconds: float = 120.0) -> Iterator[list[int]]:
    """``processes`` busy loops at nice 0 in the test's own cgroup (outside any server's), each ending by
    itself after ``seconds`` and killed on the way out."""
    loop = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"
    started = [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(processes)]
    try:
        yield [process.pid for process in started]
    finally:
        for process in started:
            process.kill()
            process.wait()


@pytest.mark.parametrize("hogs", [0, 3 * (os.cpu_count() or 1)], ids=["quiet-host", "busy-host"])
def test_a_killed_worker_is_replaced(own_server: ServerProcess, hogs: int) -> None:
    """Also with three busy loops per core beside the server: the replacement worker weighs a tenth of the
    idle server's share, which is the server's whole share while the server waits for it (a least-weight
    group beside every host process starved there)."""
    sm = client_for(own_server, "sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="kept")
    worker = control_worker(own_server)
    with busy_host(hogs) as busy:
        server_group = cpu_group_of(own_server.process.pid)
        for pid in busy:
            group = cpu_group_of(pid)
            assert server_group is None or group is None or server_group[1].parent not in (group[1], *group[1].parents)
        os.kill(worker, signal.SIGKILL)
        started = time.monotonic()
        answers = []
        for _ in range(3):
            try:
                answers.append(search_groups(sm))
            except Exception as error:  # noqa: BLE001 - the one request the dead worker may cost
                answers.append(code(error))
        elapsed = time.monotonic() - started
        replacement = control_worker(own_server)
    assert answers[-1] == ["kept"], answers
    assert all(a in (["kept"], "ServiceUnavailable") for a in answers), answers
    assert elapsed < 30, f"the replaced worker answered after {elapsed:.1f} s with {hogs} busy loops"
    assert replacement != worker
    assert own_server.process.poll() is None


def cpu_group_of(pid: int) -> tuple[str, Path] | None:
    """("v1" or "v2", the directory of the group ``pid`` is in for the cpu controller), None without one."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            for mount in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"):
                if (Path(mount + path) / "cpu.shares").exists():
                    return "v1", Path(mount + path)
        if controllers == "" and (Path("/sys/fs/cgroup" + path) / "cpu.weight").exists():
            return "v2", Path("/sys/fs/cgroup" + path)
    return None


def weight(version: str, group: Path) -> int:
    return int((group / ("cpu.shares" if version == "v1" else "cpu.weight")).read_text())


def test_the_server_its_workers_and_its_containers_have_groups_of_their_own(own_server: ServerProcess,
                                                                           tmp_path: Path) -> None:
    """``modelyard/<server pid>/`` holds the server process in ``server``, its control workers beside it at
    a tenth of its weight, and its containers under ``containers``, which weighs as much as the server;
    ``<server pid>`` weighs both. A stopped server moves out and leaves no directory behind."""
    tree, note = cgroup_tree()
    if tree is None:
        pytest.skip(f"no usable cgroups on this host ({note}): the worker's nice value is its only priority")
    sm = client_for(own_server, "sagemaker")
    described = deploy(sm, "placed", f"file://{scaler_model(tmp_path / 'model')}")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    found = cpu_group_of(own_server.process.pid)
    assert found is not None
    version, server_leaf = found
    own = server_leaf.parent
    assert (server_leaf.name, own.name, own.parent.name) == ("server", str(own_server.process.pid), "modelyard")
    worker = cpu_group_of(control_worker(own_server))
    assert worker is not None and worker[1].parent == own and worker[1].name.startswith("control-workers-"), worker
    server_weight, worker_weight = weight(version, server_leaf), weight(version, worker[1])
    assert worker_weight * 10 <= server_weight < worker_weight * 11, (server_weight, worker_weight)
    containers = own / "containers"
    assert weight(version, containers) == server_weight
    assert weight(version, own) == server_weight + weight(version, containers)
    pids = endpoint_pids("placed")
    assert pids, "the endpoint's instance runs"
    for pid in pids:
        group = cpu_group_of(pid)
        assert group is not None and containers in group[1].parents, (pid, group)
    own_server.stop()
    assert own_server.process.returncode == -signal.SIGTERM
    assert not own.exists(), f"the stopped server left {own}"


def cpu_quota(version: str, group: Path) -> float | None:
    """The group's CPU quota in CPUs, None when unlimited."""
    if version == "v1":
        quota = int((group / "cpu.cfs_quota_us").read_text())
        return None if quota < 0 else quota / int((group / "cpu.cfs_period_us").read_text())
    quota_text, period = (group / "cpu.max").read_text().split()
    return None if quota_text == "max" else int(quota_text) / int(period)


def test_the_workers_get_a_tenth_of_a_cpu_while_endpoints_are_invoked(own_server: ServerProcess,
                                                                     tmp_path: Path) -> None:
    """Invocations put a quota on the control workers' group; a second after the last one it is lifted."""
    tree, note = cgroup_tree()
    if tree is None:
        pytest.skip(f"no usable cgroups on this host ({note})")
    sm, runtime = client_for(own_server, "sagemaker"), client_for(own_server, "sagemaker-runtime")
    described = deploy(sm, "throttled", f"file://{scaler_model(tmp_path / 'model')}")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    worker = cpu_group_of(control_worker(own_server))
    assert worker is not None
    version, group = worker
    assert cpu_quota(version, group) is None, "no quota before any invocation"
    deadline, quotas = time.monotonic() + 10, set()
    while time.monotonic() < deadline and 0.1 not in quotas:
        runtime.invoke_endpoint(EndpointName="throttled", ContentType="application/json", Body=b'{"x": [1]}')
        quotas.add(cpu_quota(version, group))
    assert 0.1 in quotas, quotas
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and cpu_quota(version, group) is not None:
        time.sleep(0.1)
    assert cpu_quota(version, group) is None, "the quota outlived the invocations"


def test_the_servers_parent_weighs_one_server_per_running_server(tmp_path: Path) -> None:
    """``modelyard`` weighs as many servers as have a directory in it (at least one), within the knob's range."""
    knob = tmp_path / "cpu.shares"
    knob.write_text("1024")
    _weigh_servers(tmp_path, "cpu.shares", 2048, 262_144)
    assert knob.read_text() == "2048"
    for name in ("123", "456", "containers"):
        (tmp_path / name).mkdir()
    _weigh_servers(tmp_path, "cpu.shares", 2048, 262_144)
    assert knob.read_text() == "4096"
    _weigh_servers(tmp_path, "cpu.shares", 2048, 3000)
    assert knob.read_text() == "3000"


LEAVE_A_PLACED_SERVER = r"""
import os, time
from modelyard.runtime.cgroups import cgroup_tree
tree, _ = cgroup_tree()
tree.place_server()
child = os.fork()
if child == 0:
    os.closerange(0, 3)
    time.sleep(120)
    os._exit(0)
print(child, tree.cpu_base, flush=True)
os._exit(9)
"""


def test_the_leaf_of_a_server_that_died_is_removed_with_what_is_left_in_it() -> None:
    """A crashed server's leaf, and a child still in it, go when the next server starts."""
    tree, note = cgroup_tree()
    if tree is None:
        pytest.skip(f"no usable cgroups on this host ({note})")
    crashed = subprocess.run([sys.executable, "-c", LEAVE_A_PLACED_SERVER], capture_output=True, text=True,
                             timeout=60)
    assert crashed.returncode == 9, crashed.stderr
    child, base = crashed.stdout.split()
    assert _running(int(child)) and int(child) in [int(w) for w in (Path(base) / "server" / "cgroup.procs")
                                                    .read_text().split()]
    subprocess.run([sys.executable, "-c", "from modelyard.runtime.cgroups import cgroup_tree; cgroup_tree()"],
                   check=True, timeout=60)
    assert not Path(base).exists()
    deadline = time.monotonic() + 10
    while _running(int(child)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(int(child)), "the dead server's child in its leaf was killed"


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_killed_server_leaves_no_worker_behind(own_server: ServerProcess) -> None:
    worker = control_worker(own_server)
    os.kill(own_server.process.pid, signal.SIGKILL)
    own_server.process.wait(10)
    deadline = time.monotonic() + 10
    while _running(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(worker), f"control worker {worker} outlived its killed server"


def test_a_worker_whose_server_died_while_it_started_ends_at_once() -> None:
    """The watch compares with the server's pid, not with whatever parent the worker has when it starts."""
    code = ("import time\nfrom modelyard.edge.worker_pool import start_worker\n"
            "start_worker(None, (), (), 2**22 + 12345)\ntime.sleep(60)\n")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], timeout=30)
    assert done.returncode == 0 and time.monotonic() - started < 20
