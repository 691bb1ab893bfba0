"""What runs on a cluster node for one host of a training or processing job: the body of its actor.

    run(request, opt_ml)  ─► <node dir>/jobs/<run id>/opt_ml   (the staged /opt/ml, unpacked here)
                          ─► <node dir>/envs                   (the environment, built here)
                          ─► the container in this node's sandbox, its spec's server paths translated
    follow(token, wait)   ─► exit code (once it ended) and new log events
    collect(excluded)     ─► /opt/ml as a tar, without the inputs the server already has
    stop(grace) / remove  ─► container stopped / the job's files removed (a dead actor's: by the next one)

A host of a multi-host job first opens its share of the job's network (``job_net``) and joins the other
hosts' shares; its container then starts held on that network, is probed, and runs once released.
"""

from __future__ import annotations

import io
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, cast

from modelyard.controllers.ray.job_net import NetPlan, NodeShare
from modelyard.controllers.ray.leases import Lease, claim_node_dir, sweep
from modelyard.controllers.ray.node_host import EXIT_LOG_SETTLE_SECONDS, LOG_PAGE_EVENTS, Progress, unpack
from modelyard.logstore import LogStore, LogStoreError, LogWriter, pump
from modelyard.runtime.containers import ContainerProcess
from modelyard.runtime.environments import EnvironmentBuilder, toolkit_pythonpath
from modelyard.runtime.images import ImageSpec
from modelyard.runtime.limits import Limits
from modelyard.runtime.process import ContainerSpec, ProcessBackend, reveal_host_paths

OPT_ML = PurePosixPath("/opt/ml")


@dataclass(frozen=True)
class JobRequest:
    """One job host's container as the server planned it, with the server paths to translate."""

    run_id: str
    account: str
    region: str
    log_group: str
    stream: str
    argv: list[str]
    env: dict[str, str]
    workdir: str | None
    writable: list[str]
    network_isolated: bool
    name: str
    limits: Limits
    hostname: str | None
    hosts_file: str | None
    image: ImageSpec
    requirements: str | None
    server_opt_ml: str
    server_environment: str
    server_toolkit: str | None
    sandbox: bool | None
    node_root: str


def _translate(text: str, mapping: dict[str, str]) -> str:
    for server, node in mapping.items():
        text = text.replace(server, node)
    return text


def pack_tree(root: Path, excluded: list[str]) -> bytes:
    """``root`` as an uncompressed tar, leaving out the relative paths ``excluded``."""
    skip = {PurePosixPath(p) for p in excluded}
    buffer = io.BytesIO()

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        relative = PurePosixPath(info.name)
        return None if any(relative == s or s in relative.parents for s in skip) else info

    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for child in sorted(root.iterdir()):
            tar.add(child, arcname=child.name, filter=keep)
    return buffer.getvalue()


class JobHost:
    """One job host on this node (a Ray actor)."""

    def __init__(self) -> None:
        self._process: ContainerProcess | None = None
        self._logs: LogStore | None = None
        self._request: JobRequest | None = None
        self._root: Path | None = None
        self._writer: LogWriter | None = None
        self._lease: Lease | None = None
        self._share: NodeShare | None = None

    def open_network(self, plan: NetPlan) -> tuple[str, str, int]:
        """Open this host's share of the job's network: this node's id, and the address and port of its
        frame forwarder."""
        import ray

        address = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
        self._share = NodeShare(plan)
        port = self._share.open(address)
        return ray.get_runtime_context().get_node_id(), address, port

    def join_network(self, peers: dict[int, tuple[str, int]]) -> str | None:
        """Connect to the other hosts' forwarders; None, or why some cannot be reached."""
        assert self._share is not None
        try:
            self._share.join(peers)
        except Exception as exc:  # noqa: BLE001
            return str(exc)
        return None

    def probe_open(self) -> int:
        """Listen in this host's sandbox network (algo-1): the port."""
        assert self._share is not None
        return self._share.probe_open()

    def probe_reach(self, address: str, port: int) -> str | None:
        """Connect from this host's sandbox network to algo-1's probe listener; None, or why not."""
        assert self._share is not None
        try:
            self._share.probe_reach(address, port)
        except Exception as exc:  # noqa: BLE001
            return str(exc)
        return None

    def probe_close(self) -> None:
        """Stop the probe listener."""
        if self._share is not None:
            self._share.probe_close()

    def release(self) -> None:
        """Let a container held on the job's network start its program."""
        if self._process is not None:
            self._process.release()

    def run(self, request: JobRequest, opt_ml: bytes) -> str:
        """Unpack /opt/ml, build the environment and start the container here; the node's id."""
        node_id, node_dir, self._lease = claim_node_dir(request.node_root, request.run_id)
        root = self._lease.holds(node_dir / "jobs" / request.run_id)
        self._root, self._request = root, request
        unpack(opt_ml, root / "opt_ml")
        backend = ProcessBackend(sandbox=request.sandbox)
        environment = EnvironmentBuilder(node_dir / "envs", backend=backend).ensure(request.image, request.requirements)
        mapping = {request.server_opt_ml: str(root / "opt_ml"), request.server_environment: str(environment.path)}
        toolkit = toolkit_pythonpath(node_dir / "toolkit-path") if request.server_toolkit else None
        if request.server_toolkit and toolkit:
            mapping[request.server_toolkit] = toolkit
        spec = ContainerSpec(
            argv=[_translate(a, mapping) for a in request.argv], opt_ml=root / "opt_ml",
            env={k: _translate(v, mapping) for k, v in request.env.items()},
            workdir=Path(_translate(request.workdir, mapping)) if request.workdir else None,
            writable=list(request.writable), network_isolated=request.network_isolated, name=request.name,
            capture_output=True, limits=request.limits, hostname=request.hostname, hosts_file=request.hosts_file)
        reveal_host_paths(spec, environment.path, request.image.directory, toolkit)
        if self._share is not None:
            self._share.prepare(spec)
        self._logs = LogStore(self._lease.holds(node_dir / "logs" / request.run_id)).scoped(request.account,
                                                                                             request.region)
        writer = self._logs.writer(request.log_group, request.stream)
        self._writer = writer
        spec.note = lambda text: writer.write_line(f"modelyard: {text}")
        if backend.sandboxed:
            writer.write_line(f"modelyard: {backend.describe_limits(spec.limits)}")
        process = backend.start(spec)
        assert process.stdout is not None
        pump(cast(BinaryIO, process.stdout), writer, name=f"log-{request.run_id}")
        self._process = process
        if self._share is None:
            process.release()
        return node_id

    def follow(self, token: str | None, wait: float) -> Progress:
        """As ``InstanceHost.follow``: the exit code once the container ended, and the new log events."""
        process, logs, request = self._process, self._logs, self._request
        if process is None or logs is None or request is None:
            return Progress([], token, None, None)
        code = process.wait(wait)
        if code is not None:
            time.sleep(EXIT_LOG_SETTLE_SECONDS)
        breach = process.limit_exceeded(0.0) if code is not None else None
        limit = f"{breach.kind}:{breach.message}" if breach else None
        try:
            page = logs.read(request.log_group, request.stream, start_from_head=True, limit=LOG_PAGE_EVENTS,
                             token=token)
        except (LogStoreError, OSError):
            return Progress([], token, code, limit)
        events = [(event.timestamp, event.message) for event in page.events]
        if len(events) == LOG_PAGE_EVENTS:
            code = None
        return Progress(events, page.forward_token, code, limit)

    def collect(self, excluded: list[str]) -> bytes:
        """The job's /opt/ml after its end, without ``excluded`` (paths relative to /opt/ml)."""
        assert self._root is not None
        return pack_tree(self._root / "opt_ml", excluded)

    def stop(self, grace: float) -> None:
        """SIGTERM, ``grace`` seconds, SIGKILL."""
        if self._process is not None and self._process.poll() is None:
            self._process.stop(grace)

    def remove(self) -> None:
        """Remove the job's files from this node."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        if self._writer is not None:
            self._writer.close()
        if self._share is not None:
            self._share.close()
            self._share = None
        if self._lease is not None:
            self._lease.release()
            sweep(self._lease.node_dir)
            self._lease = None
