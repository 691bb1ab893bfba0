"""Multi-container instances: every container of a model started side by side as one instance.

    start_group ─► one instance id; per container: its own sandboxed process, environment and venv
                   (prepared apart, so containers whose requirements differ get different venvs), its own
                   directory and log stream ``<prefix>/<instance-id>/<container-name>`` (SageMaker's
                   stream for inference pipelines) ─► one ``Instance`` whose ``members`` are the containers,
                   whose ``client`` is a ``ContainerChain`` and whose ``process`` is a ``ProcessSet``

The instance is up while every container is; one container that exits takes the instance down, and the
endpoint controller replaces the whole instance as it replaces a crashed single-container one.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass

from modelyard.controllers.endpoints.plans import ContainerPlan
from modelyard.controllers.launcher import Instance, Launcher, local_process, new_instance_id
from modelyard.controllers.preparation import PreparedContainer
from modelyard.hosting.container_chain import ChainMember, ContainerChain
from modelyard.runtime.containers import ContainerProcess
from modelyard.runtime.limits import Breach


def container_names(containers: tuple[ContainerPlan, ...] | list[ContainerPlan]) -> list[str]:
    """Each container's name: its ContainerHostname, else ``container-<n>`` (1-based position)."""
    return [c.hostname or f"container-{index}" for index, c in enumerate(containers, 1)]


@dataclass(frozen=True)
class GroupShape:
    """Where and how a multi-container instance runs."""

    region: str
    account: str
    endpoint: str
    """The instance directory's parent (an endpoint name, or ``transform-jobs/<job>``)."""
    variant: str
    log_group: str
    stream_prefix: str
    """The log streams are ``<stream_prefix>/<instance-id>/<container>``."""
    mode: str
    network_isolated: bool
    instance_type: str | None = None
    volume_gb: int | None = None


def start_group(launcher: Launcher, shape: GroupShape, members: list[tuple[str, PreparedContainer]]) -> Instance:
    """Start every container of one multi-container instance (blocking; call from a worker thread)."""
    instance_id = new_instance_id()
    started: list[Instance] = []
    try:
        for name, prepared in members:
            started.append(launcher.start(
                shape.region, shape.endpoint, shape.variant, prepared, shape.network_isolated, shape.log_group,
                shape.instance_type, account=shape.account, volume_gb=shape.volume_gb,
                stream=f"{shape.stream_prefix}/{instance_id}/{name}", instance_id=instance_id, container=name))
    except BaseException:
        for instance in started:
            launcher.stop(instance, 0.5)
        raise
    first = started[0]
    chain = ContainerChain([ChainMember(name, i.client) for (name, _), i in zip(members, started, strict=True)],
                           shape.mode)
    return Instance(instance_id, shape.variant, first.prepared, ProcessSet([local_process(i) for i in started]), chain,
                    first.directory.parent, None, shape.log_group, f"{shape.stream_prefix}/{instance_id}",
                    first.writer, logs=first.logs, members=started)


class ProcessSet(ContainerProcess):
    """The processes of a multi-container instance seen as one container: it has ended as soon as one
    of them has (its code is that one's), and stopping it stops them all."""

    def __init__(self, processes: list[ContainerProcess]) -> None:  # noqa: D107 - no popen of its own
        self.processes = processes
        self.name = " + ".join(p.name for p in processes)
        self.sandboxed = processes[0].sandboxed
        self.pid = processes[0].pid
        self.stdout = None
        self.watch = None

    @property
    def returncode(self) -> int | None:
        """The exit status of the first container seen ended, or None while all run."""
        for process in self.processes:
            code = process.returncode
            if code is not None:
                return code
        return None

    def poll(self) -> int | None:
        """The exit status of a container that has ended, or None while all run."""
        for process in self.processes:
            code = process.poll()
            if code is not None:
                return code
        return None

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds for a container to end."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(0.05)
        return code

    def limit_exceeded(self, timeout: float = 5.0) -> Breach | None:
        """The limit that ended one of the containers, or None."""
        for process in self.processes:
            if process.poll() is not None:
                breach = process.limit_exceeded(timeout)
                if breach is not None:
                    return breach
        return None

    def settled(self) -> bool:
        """Whether a container has ended and its watchdog has had its say."""
        return any(process.settled() for process in self.processes)

    def pids(self) -> list[int]:
        """Host pids of every container's processes."""
        return [pid for process in self.processes for pid in process.pids()]

    def wait_started(self, timeout: float = 10.0) -> bool:
        """Wait until every container is launched."""
        return all(process.wait_started(timeout) for process in self.processes)

    def send_signal(self, signum: int) -> None:
        """Deliver ``signum`` to every container."""
        for process in self.processes:
            process.send_signal(signum)

    def stop(self, grace: float = 30.0) -> int:
        """SIGTERM every container, up to ``grace`` seconds for all to exit, then SIGKILL the rest."""
        self.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes:
            if process.wait(max(deadline - time.monotonic(), 0.0)) is None:
                process.kill()
        return self.returncode or 0

    def kill(self) -> int:
        """SIGKILL every container."""
        for process in self.processes:
            process.kill()
        return self.returncode or 0

    def __repr__(self) -> str:
        return f"ProcessSet({self.processes!r})"
