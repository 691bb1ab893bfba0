"""Search runs in the control worker process, not on the server's threads: the worker exists at the
lowest CPU priority, answers with the server's data, and a killed worker costs at most one request."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from modelyard.runtime.cgroups import cgroup_tree
from tests.conftest import client_for
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


def test_a_killed_worker_is_replaced(own_server: ServerProcess) -> None:
    sm = client_for(own_server, "sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="kept")
    worker = control_worker(own_server)
    os.kill(worker, signal.SIGKILL)
    answers = []
    for _ in range(3):
        try:
            answers.append(search_groups(sm))
        except Exception as error:  # noqa: BLE001 - the one request the dead worker may cost
            answers.append(code(error))
    assert answers[-1] == ["kept"], answers
    assert all(a in (["kept"], "ServiceUnavailable") for a in answers), answers
    assert control_worker(own_server) != worker
    assert own_server.process.poll() is None


def cpu_weight_of(pid: int) -> tuple[str, int] | None:
    """("v1", cpu.shares) or ("v2", cpu.weight) of the group ``pid`` is in, None without a cpu controller."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            for mount in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"):
                shares = Path(mount + path) / "cpu.shares"
                if shares.exists():
                    return "v1", int(shares.read_text())
        if controllers == "" and (Path("/sys/fs/cgroup" + path) / "cpu.weight").exists():
            return "v2", int((Path("/sys/fs/cgroup" + path) / "cpu.weight").read_text())
    return None


def test_the_worker_has_the_least_cpu_weight_where_containers_have_cgroups(own_server: ServerProcess) -> None:
    tree, note = cgroup_tree()
    if tree is None:
        pytest.skip(f"no usable cgroups on this host ({note}): the worker's nice value is its only priority")
    found = cpu_weight_of(control_worker(own_server))
    assert found in (("v1", 2), ("v2", 1)), found


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
    import subprocess
    import sys

    code = ("import time\nfrom modelyard.edge.worker_pool import start_worker\n"
            "start_worker(None, (), (), 2**22 + 12345)\ntime.sleep(60)\n")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], timeout=30)
    assert done.returncode == 0 and time.monotonic() - started < 20
