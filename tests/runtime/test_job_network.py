"""The job network with real sandboxes: hosts wired before their programs start, and a host that
cannot reach algo-1 named by the probe."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.runtime import ContainerProcess, ContainerStartError, ProcessBackend
from modelyard.runtime.job_network import JobNetwork, JobNetworkError, network_problem

from .conftest import python_spec

SLEEP = "import time; time.sleep(60)"


@pytest.fixture()
def network() -> Iterator[JobNetwork]:
    if network_problem():
        pytest.skip(network_problem())
    job = JobNetwork("probe-test", ["algo-1", "algo-2"])
    job.open()
    yield job
    job.close()


def held_host(backend: ProcessBackend, tmp_path: Path, network: JobNetwork, host: str) -> ContainerProcess:
    spec = python_spec(tmp_path / host, SLEEP, hostname=host, hosts_file=network.hosts_file(), held=True,
                       network_isolated=True, name=host)
    spec.attach_network = lambda pid: network.attach(host, pid)
    return backend.start(spec)


def test_probe_names_the_host_that_cannot_reach_algo_1(sandboxed_backend: ProcessBackend, tmp_path: Path,
                                                        network: JobNetwork) -> None:
    for host in ("algo-1", "algo-2"):
        (tmp_path / host).mkdir()
    processes = [held_host(sandboxed_backend, tmp_path, network, host) for host in ("algo-1", "algo-2")]
    try:
        network.probe()
        pid = network._pids["algo-2"]
        subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "ip", "link", "set", "eth0", "down"], check=True)
        with pytest.raises(JobNetworkError, match=r"algo-2 cannot reach algo-1 \(10\.0\.1\.2\) over TCP"):
            network.probe(timeout=1.0)
    finally:
        for process in processes:
            process.kill()


def test_a_failing_attach_fails_the_start_and_leaves_nothing_running(sandboxed_backend: ProcessBackend,
                                                                    tmp_path: Path, network: JobNetwork) -> None:
    (tmp_path / "algo-3").mkdir()
    spec = python_spec(tmp_path / "algo-3", SLEEP, held=True, network_isolated=True, name="algo-3")
    spec.attach_network = lambda pid: network.attach("algo-3", pid)
    with pytest.raises(ContainerStartError, match="algo-3 is not a host of probe-test"):
        sandboxed_backend.start(spec)


def test_a_held_program_starts_only_when_released(sandboxed_backend: ProcessBackend, tmp_path: Path,
                                                  network: JobNetwork) -> None:
    (tmp_path / "algo-1").mkdir()
    spec = python_spec(tmp_path / "algo-1", "import socket; print(socket.gethostname(), open('/etc/hosts').read())",
                       hostname="algo-1", hosts_file=network.hosts_file(), held=True, network_isolated=True)
    spec.attach_network = lambda pid: network.attach("algo-1", pid)
    process = sandboxed_backend.start(spec)
    assert process.wait(1.0) is None
    process.release()
    assert process.wait(30) == 0
    assert spec.stdout_path is not None
    log = spec.stdout_path.read_text()
    assert log.startswith("algo-1") and "10.0.1.2\talgo-1" in log and "10.0.1.3\talgo-2" in log, log
