"""The hosts of one job (``InstanceCount`` N): algo-1 … algo-N, each a sandboxed container of its own.

    workspace          algo-1: <job>/opt_ml            algo-K: <job>/hosts/algo-K/opt_ml
    inputs             staged once into algo-1, then copied: FullyReplicated ─► every host all objects,
                       ShardedByS3Key ─► host K the K-th of every N objects in key (or manifest) order
    network (N > 1)    a job network of their own (``runtime.job_network``): hostname algo-K, /etc/hosts,
                       eth0; every host is wired and algo-1 reachable from each before any program starts
    end                all exit 0 ─► success; the first host to fail ─► the others are stopped, the job
                       fails with that host's reason; StopJob / MaxRuntime ─► all are stopped
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from modelyard.controllers.jobs.controller import POLL_SECONDS, JobRun, StopRequested
from modelyard.controllers.jobs.data import JobDataError
from modelyard.controllers.jobs.tools import JobTools, LogTap, Workspace, start_container
from modelyard.runtime.containers import ContainerProcess
from modelyard.runtime.errors import ContainerStartError
from modelyard.runtime.job_network import JobNetwork, JobNetworkError, hosts_file, network_problem
from modelyard.runtime.process import ContainerSpec

FAILURE_GRACE = 5.0
"""Seconds the other hosts get to exit after one host failed (SIGTERM, then SIGKILL)."""
SHARDED = "ShardedByS3Key"


def host_workspaces(primary: Workspace, hosts: Sequence[str]) -> list[Workspace]:
    """One workspace per host: algo-1's is ``primary``, the others' lie beside it (fresh and empty)."""
    workspaces = [primary]
    for host in hosts[1:]:
        workspace = Workspace(primary.root / "hosts" / host)
        shutil.rmtree(workspace.root, ignore_errors=True)
        workspace.opt_ml.mkdir(parents=True)
        workspace.work.mkdir(parents=True)
        workspaces.append(workspace)
    return workspaces


def spread(files: Sequence[Path], staged: Path, destinations: Sequence[Path], distribution: str | None) -> list[int]:
    """Give each host its objects of one input staged (for algo-1) under ``staged``: ``destinations[k]`` is
    host k's directory for it (``destinations[0] == staged``). Returns how many files each host holds."""
    count = len(destinations)
    sharded = distribution == SHARDED and count > 1
    shares = [list(files[index::count]) if sharded else list(files) for index in range(count)]
    for destination, share in list(zip(destinations, shares, strict=True))[1:]:
        destination.mkdir(parents=True, exist_ok=True)
        for path in share:
            target = destination / path.relative_to(staged)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    kept = set(shares[0])
    for path in files:
        if path not in kept:
            path.unlink(missing_ok=True)
    return [len(share) for share in shares]


def copy_tree(source: Path, destinations: Sequence[Path]) -> None:
    """Copy ``source`` (e.g. /opt/ml/code) to each of ``destinations``."""
    for destination in destinations:
        shutil.copytree(source, destination, dirs_exist_ok=True, symlinks=True)


def on_host(reason: str, host: str, count: int) -> str:
    """A failure reason naming the host it happened on when the job has more than one
    (``AlgorithmError: algo-2: ...``)."""
    if count < 2:
        return reason
    kind, separator, rest = reason.partition(": ")
    return f"{kind}: {host}: {rest}" if separator else f"{host}: {reason}"


@dataclass
class HostsEnd:
    """How the hosts ended: every exit status (None for a host stopped by a stop request), the index of
    the host that failed first (None if none did), and whether a stop request (or timeout) ended them."""

    codes: list[int | None]
    failed: int | None
    stopped: bool


class HostGroup:
    """Starts the hosts' containers (on a job network of their own when there are several) and waits for
    them the SageMaker way."""

    def __init__(self, tools: JobTools, job: JobRun, hosts: Sequence[str], what: str) -> None:
        self.tools = tools
        self.job = job
        self.hosts = list(hosts)
        self.what = what
        self.processes: list[ContainerProcess] = []
        self.pumps: list[threading.Thread] = []
        self._network: JobNetwork | None = None

    def run(self, specs: Sequence[ContainerSpec], taps: Sequence[LogTap]) -> HostsEnd:
        """Start the hosts, wait for their end (a stop gives them the controller's grace), let their output
        reach the logs, and leave nothing running."""
        try:
            self.start(specs, taps)
            end = self.wait(self.job.controller.stop_grace)
            self.join_logs()
            return end
        finally:
            self.close()

    def start(self, specs: Sequence[ContainerSpec], taps: Sequence[LogTap]) -> None:
        """Start every host's container; JobDataError (naming the host) when one cannot start or the hosts
        cannot reach each other (then none is left running)."""
        several = len(self.hosts) > 1
        if several and not self.tools.backend.sandboxed:
            raise JobDataError(f"ClientError: multi-instance {self.what} jobs need the sandbox, which is off "
                               f"here ({self.tools.backend.sandbox_problem}); use InstanceCount 1")
        problem = network_problem() if several else None
        if problem:
            raise JobDataError(f"ClientError: {problem}; use InstanceCount 1")
        try:
            if several:
                self._network = JobNetwork(self.job.name, self.hosts)
                self._network.open()
            for host, spec, tap in zip(self.hosts, specs, taps, strict=True):
                self._prepare(host, spec)
                try:
                    process, pump = start_container(self.tools, spec, tap)
                except ContainerStartError as exc:
                    raise JobDataError(f"ClientError: the {self.what} container of {host} could not start: "
                                       f"{exc}") from None
                self.processes.append(process)
                self.pumps.append(pump)
            if self._network is not None:
                self._network.probe()
        except JobNetworkError as exc:
            self.close()
            raise JobDataError(f"ClientError: the hosts of the job cannot reach each other: {exc}") from None
        except BaseException:
            self.close()
            raise
        for process in self.processes:
            process.release()

    def _prepare(self, host: str, spec: ContainerSpec) -> None:
        spec.hostname = host
        if self._network is None:
            spec.hosts_file = hosts_file([host], ["127.0.0.1"])
            return
        network = self._network
        spec.hosts_file = network.hosts_file()
        spec.attach_network = lambda pid: network.attach(host, pid)
        spec.held = True

    def wait(self, grace: float) -> HostsEnd:
        """Wait until every host has exited, one has failed (the rest are then stopped) or a stop was
        requested (all are stopped with ``grace``). A host that exited 0 over a limit (its disk budget,
        seen by the watchdog's last check) has failed too."""
        while True:
            codes = [process.poll() for process in self.processes]
            failed = next((index for index, code in enumerate(codes) if code not in (None, 0)), None)
            if failed is not None:
                self._stop_all(FAILURE_GRACE)
                return HostsEnd([process.poll() for process in self.processes], failed, False)
            if all(code == 0 for code in codes):
                over = next((index for index, process in enumerate(self.processes) if process.limit_exceeded()), None)
                return HostsEnd(list(codes), over, False)
            try:
                self.job.check()
            except StopRequested:
                self._stop_all(grace)
                return HostsEnd([None] * len(self.processes), None, True)
            time.sleep(POLL_SECONDS)

    def join_logs(self, timeout: float = 10.0) -> None:
        """Wait for the hosts' output to reach their log streams."""
        for pump in self.pumps:
            pump.join(timeout)

    def close(self) -> None:
        """Kill whatever still runs and take the job network down."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        if self._network is not None:
            self._network.close()
            self._network = None

    def _stop_all(self, grace: float) -> None:
        _in_parallel([lambda process=process: process.stop(grace) for process in self.processes])  # type: ignore[misc]


def _in_parallel(actions: Sequence[Callable[[], object]]) -> None:
    threads = [threading.Thread(target=action, daemon=True) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
