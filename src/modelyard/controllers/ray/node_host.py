"""What runs on a cluster node for one endpoint instance: the body of its Ray actor.

    start(request, artifact) ─► <node dir>/artifacts/<id>/{model,code}   (the artifact, unpacked here)
                             ─► <node dir>/envs                          (the environment, built here)
                             ─► Launcher + ProcessBackend of this node   (the same sandbox as a local instance)
                             ─► Relay on the node's address              (authenticated TCP → unix socket)
    follow(token, wait)      ─► the container's exit code (if it ended), its new log events and a reading
                                of its processes' CPU and memory and its directory's disk
    stop(grace)              ─► container stopped, relay closed, files removed
    (an actor that dies without ``stop`` leaves a lease: the next actor on the node removes its files)

The node dir is ``<root>/<node id>``, never the server's data dir: on a real cluster the node shares
no disk with the server. This module imports nothing of Ray at import time; ``placement`` wraps the
class with ``ray.remote`` on the server, and Ray runs it in a worker on the chosen node.
"""

from __future__ import annotations

import io
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from modelyard.controllers.endpoints.plans import ContainerPlan
from modelyard.controllers.launcher import Instance, Launcher
from modelyard.controllers.preparation import PreparedContainer
from modelyard.controllers.ray.leases import Lease, claim_node_dir, sweep
from modelyard.hosting.relay import Relay
from modelyard.logstore import LogStore, LogStoreError
from modelyard.metrics.instance_usage import UsageReading, read_usage
from modelyard.runtime.environments import EnvironmentBuilder
from modelyard.runtime.images import ImageSpec
from modelyard.runtime.process import ProcessBackend
from modelyard.storage.tarballs import extract_checked

LOG_PAGE_EVENTS = 1000
MODEL_MEMBER = "model"
CODE_MEMBER = "code"
EXIT_LOG_SETTLE_SECONDS = 0.2
"""After the container ends, how long its last output may take to reach the node's log store."""


@dataclass(frozen=True)
class StartRequest:
    """Everything a node needs to start one instance (sent by the server, pickled by Ray)."""

    instance_id: str
    account: str
    region: str
    endpoint: str
    variant: str
    log_group: str
    stream: str
    instance_type: str | None
    volume_gb: int | None
    memory_mb: int | None
    network_isolated: bool
    plan: ContainerPlan
    image: ImageSpec
    requirements: str | None
    has_model: bool
    has_code: bool
    code_in_model: str | None
    """The code directory's path inside the model directory, when it lies there."""
    secret: bytes
    sandbox: bool | None
    node_root: str


@dataclass(frozen=True)
class Placed:
    """Where a started instance can be reached."""

    node_id: str
    address: str
    port: int


@dataclass(frozen=True)
class Progress:
    """One ``follow`` answer: new log events and, once the container ended, its exit code."""

    events: list[tuple[int, str]]
    token: str | None
    returncode: int | None
    limit: str | None
    """``<kind>:<sentence>`` of the limit that ended the container (``runtime.limits.Breach``), if one did."""
    usage: UsageReading | None = None
    """The container's processes and directory as read on the node (endpoint instances)."""


def pack(model_dir: Path | None, code_dir: Path | None) -> bytes:
    """The prepared model files as one uncompressed tar (``model/…``, ``code/…``) to send to a node."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for member, path in ((MODEL_MEMBER, model_dir), (CODE_MEMBER, code_dir)):
            if path is not None:
                tar.add(path, arcname=member)
    return buffer.getvalue()


def unpack(artifact: bytes, directory: Path) -> None:
    """Unpack ``pack``'s tar into ``directory``: every member passes the artifact cache's checks first
    (``storage.tarballs.extract_checked``: no names or links out, no devices), then the ``data`` filter
    where this Python has it."""
    with tarfile.open(fileobj=io.BytesIO(artifact), mode="r") as tar:
        extract_checked(tar, directory, tar.getmembers(), archive_name="the files a Ray node sent")


class InstanceHost:
    """One endpoint instance on this node (a Ray actor)."""

    def __init__(self) -> None:
        self._instance: Instance | None = None
        self._launcher: Launcher | None = None
        self._relay: Relay | None = None
        self._lease: Lease | None = None

    def start(self, request: StartRequest, artifact: bytes) -> Placed:
        """Unpack the artifact, build the environment and start the container here; listen for the server."""
        import ray

        address = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
        node_id, node_dir, self._lease = claim_node_dir(request.node_root, request.instance_id)
        backend = ProcessBackend(sandbox=request.sandbox)
        files = self._lease.holds(node_dir / "artifacts" / request.instance_id)
        unpack(artifact, files)
        model_dir = files / MODEL_MEMBER if request.has_model else None
        code_dir = files / CODE_MEMBER if request.has_code else None
        if code_dir is None and model_dir is not None and request.code_in_model is not None:
            code_dir = model_dir / request.code_in_model
        environment = EnvironmentBuilder(node_dir / "envs", backend=backend).ensure(request.image,
                                                                                    request.requirements)
        prepared = PreparedContainer(request.plan, request.image, environment, model_dir, code_dir)
        logs = self._lease.holds(node_dir / "logs" / request.instance_id)
        self._launcher = Launcher(backend, LogStore(logs), node_dir)
        instance = self._launcher.start(
            request.region, request.endpoint, request.variant, prepared, request.network_isolated,
            request.log_group, request.instance_type, account=request.account, volume_gb=request.volume_gb,
            memory_mb=request.memory_mb, stream=request.stream, instance_id=request.instance_id)
        self._instance = instance
        assert instance.socket_dir is not None
        self._lease.holds(instance.directory)
        self._lease.holds(instance.socket_dir)
        self._relay = Relay(str(instance.socket_dir / "m.sock"), request.secret, address)
        return Placed(node_id, address, self._relay.start())

    def follow(self, token: str | None, wait: float) -> Progress:
        """Wait up to ``wait`` seconds for the container to end; its exit code (None while it runs) and
        the log events after ``token``."""
        instance = self._instance
        if instance is None or instance.logs is None:
            return Progress([], token, None, None)
        code = instance.process.wait(wait)
        if code is not None:
            time.sleep(EXIT_LOG_SETTLE_SECONDS)
        breach = instance.process.limit_exceeded(0.0) if code is not None else None
        limit = f"{breach.kind}:{breach.message}" if breach else None
        try:
            page = instance.logs.read(instance.log_group, instance.log_stream, start_from_head=True,
                                      limit=LOG_PAGE_EVENTS, token=token)
        except (LogStoreError, OSError):
            return Progress([], token, code, limit)
        events = [(event.timestamp, event.message) for event in page.events]
        if len(events) == LOG_PAGE_EVENTS:
            code = None
        usage = read_usage(instance.process.pids(), instance.directory) if code is None else None
        return Progress(events, page.forward_token, code, limit, usage)

    def stop(self, grace: float) -> None:
        """Stop the container and the relay, and remove the instance's files from this node."""
        if self._relay is not None:
            self._relay.close()
        if self._instance is not None and self._launcher is not None:
            self._launcher.stop(self._instance, grace)
        if self._lease is not None:
            self._lease.release()
            sweep(self._lease.node_dir)
            self._lease = None
