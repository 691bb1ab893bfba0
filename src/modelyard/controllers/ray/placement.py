"""Endpoint instances on a Ray cluster: one actor per instance, scheduled by Ray with the instance
type's resources, running the container in the sandbox of its node (``node_host``).

    start ─► fits? (some live node has the type's CPUs, memory, GPUs; else InstanceFailed with the numbers)
          ─► artifact: the prepared model files packed once per prepared container, ``ray.put``
          ─► actor InstanceHost (num_cpus, memory, num_gpus; SPREAD over nodes) .start(request, artifact)
          ─► RemoteFramedInstance(node address, relay port, per-instance secret)   ← the router's client
          ─► follower thread: actor.follow() ─► log events into this server's log store; exit code
                                               a dead actor (lost node) ─► the instance has exited
    stop  ─► actor.stop(grace), then ray.kill

Only single-container instances of toolkit (framework) images are placed on Ray; bring-your-own
images, multi-container and multi-model instances, and everything given to ``stop``/``wait_ready``
that this placement did not start, go to the local launcher.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.controllers.launcher import Instance, InstanceFailed, Launcher, new_instance_id
from modelyard.controllers.preparation import PreparedContainer
from modelyard.controllers.ray.cluster import gcs_address, gcs_answers, live_node_resources
from modelyard.controllers.ray.node_host import InstanceHost, Placed, Progress, StartRequest, pack
from modelyard.controllers.ray.resources import ActorResources, cluster_cannot_hold, no_node_fits, resources_for
from modelyard.hosting import channel
from modelyard.hosting.instances import Ending
from modelyard.hosting.remote_instance import RemoteFramedInstance
from modelyard.logstore import LogWriter
from modelyard.metrics.instance_usage import UsageReading
from modelyard.runtime.limits import Breach

log = logging.getLogger("modelyard.controllers.ray")
START_TIMEOUT_SECONDS = 900.0
"""How long an instance may take to be scheduled, fetch its artifact and build its environment."""
FOLLOW_WAIT_SECONDS = 0.5
NODE_LOST_CODE = 137
"""The exit code a container on a lost node reads as (it was killed with its node)."""


class RemoteProcess:
    """The container of an instance on a Ray node, as the controllers see it (``InstanceProcess``):
    its exit code arrives with the follower's answers; a dead actor reads as an exit."""

    def __init__(self, stopper: Any) -> None:
        self._code: int | None = None
        self._breach: Breach | None = None
        self._ended = threading.Event()
        self._stopper = stopper
        self.lost = False
        """Whether the container's node (or its actor) was lost, rather than the container ending."""
        self.usage: UsageReading | None = None
        """The latest reading of the container's CPU, memory and disk, taken on its node."""

    @property
    def returncode(self) -> int | None:
        """The exit status once the container has ended."""
        return self._code

    def poll(self) -> int | None:
        """The exit status, or None while the container runs."""
        return self._code

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds for the end; the exit status or None."""
        self._ended.wait(timeout)
        return self._code

    def pids(self) -> list[int]:
        """None on this machine."""
        return []

    def stop(self, grace: float = 30.0) -> int:
        """Stop the container on its node; the exit status."""
        self._stopper(grace)
        self.wait(grace + 10.0)
        return self._code if self._code is not None else NODE_LOST_CODE

    def settled(self) -> bool:
        """Whether the end is known."""
        return self._ended.is_set()

    def limit_exceeded(self, timeout: float = 5.0) -> Breach | None:
        """The limit that ended the container on its node, or None."""
        return self._breach

    def lose(self) -> None:
        """Record that the container's node or actor is gone (the container went with it)."""
        self.lost = True
        self.end(NODE_LOST_CODE)

    def end(self, code: int, limit: str | None = None) -> None:
        """Record the container's end (``limit``: ``<kind>:<sentence>`` of the node's watchdog, if it killed it)."""
        if self._ended.is_set():
            return
        self._code = code
        if limit:
            kind, _, message = limit.partition(":")
            self._breach = Breach(kind, message)
        self._ended.set()


@dataclass
class _Remote:
    actor: Any
    process: RemoteProcess
    writer: LogWriter
    artifact_key: int
    placed: Placed | None = None
    stopped: threading.Event = field(default_factory=threading.Event)


class RayPlacement:
    """Places endpoint instances on the Ray cluster this server has joined (``ray.init`` done by
    ``cluster.join``)."""

    def __init__(self, local: Launcher, *, node_root: Path, sandbox: bool | None) -> None:
        import ray

        self._ray = ray
        self.gcs = gcs_address()
        self.local = local
        self.logs = local.logs
        self.node_root = node_root
        self.sandbox = sandbox
        self._actor_class: Any = ray.remote(InstanceHost)
        self._remotes: dict[str, _Remote] = {}
        self._artifacts: dict[int, tuple[PreparedContainer, Any, int]] = {}
        self._lock = threading.Lock()

    # placement

    def start(self, region: str, endpoint: str, variant: str, prepared: PreparedContainer,
              network_isolated: bool, log_group: str, instance_type: str | None = None, *,
              account: str, volume_gb: int | None = None, memory_mb: int | None = None,
              stream: str | None = None, extra_env: dict[str, str] | None = None,
              instance_id: str | None = None, container: str | None = None) -> Instance:
        """Start one instance on a node of the cluster (blocking): schedule its actor, which prepares and
        starts the container there; InstanceFailed when the cluster cannot hold it or the node fails it.
        A bring-your-own image's instance starts on this machine."""
        if prepared.image.kind != "toolkit" or extra_env or container is not None:
            return self.local.start(region, endpoint, variant, prepared, network_isolated, log_group, instance_type,
                                    account=account, volume_gb=volume_gb, memory_mb=memory_mb, stream=stream,
                                    extra_env=extra_env, instance_id=instance_id, container=container)
        if not gcs_answers(self.gcs):
            raise InstanceFailed(f"The Ray cluster's GCS at {self.gcs} does not answer; the instance is placed when "
                                 "it does")
        wanted = resources_for(instance_type, memory_mb)
        self._check_fits(wanted, instance_type)
        instance_id = instance_id or new_instance_id()
        stream = stream or f"{variant}/{instance_id}"
        logs = self.logs.scoped(account, region)
        writer = logs.writer(log_group, stream)
        writer.write_line(f"modelyard: placing the instance on the Ray cluster ({wanted.describe()})")
        secret = channel.new_secret()
        artifact_key, artifact = self._artifact(prepared)
        requirements_file = prepared.code_dir / "requirements.txt" if prepared.code_dir else None
        request = StartRequest(
            instance_id, account, region, endpoint, variant, log_group, stream, instance_type, volume_gb, memory_mb,
            network_isolated, prepared.plan, prepared.image,
            requirements_file.read_text() if requirements_file and requirements_file.is_file() else None,
            prepared.model_dir is not None, _external_code(prepared) is not None, _code_in_model(prepared), secret,
            self.sandbox, str(self.node_root))
        actor = self._actor_class.options(
            num_cpus=wanted.cpus, memory=wanted.memory_bytes, num_gpus=wanted.gpus, max_restarts=0,
            max_concurrency=4, scheduling_strategy="SPREAD", name=f"modelyard-{instance_id}").remote()
        process = RemoteProcess(lambda grace: self._stop_actor(instance_id, grace))
        remote = _Remote(actor, process, writer, artifact_key)
        try:
            placed: Placed = self._ray.get(actor.start.remote(request, artifact), timeout=START_TIMEOUT_SECONDS)
        except BaseException as exc:
            self._discard(remote)
            reason = _start_failure(exc, wanted)
            writer.write_line(f"modelyard: {reason}")
            writer.close()
            raise InstanceFailed(reason) from None
        remote.placed = placed
        writer.write_line(f"modelyard: placed on Ray node {placed.node_id}; authenticated channel at "
                          f"{placed.address}:{placed.port}")
        client = RemoteFramedInstance(placed.address, placed.port, secret)
        client.ended = functools.partial(_ending, process)
        with self._lock:
            self._remotes[instance_id] = remote
        threading.Thread(target=self._follow, args=(instance_id, remote), name=f"ray-follow-{instance_id}",
                         daemon=True).start()
        on_node = self.node_root / placed.node_id[:16] / "instances" / instance_id
        return Instance(instance_id, variant, prepared, process, client, on_node, None, log_group, stream, writer,
                        logs=logs, node=placed.node_id)

    def capacity_problem(self, prepared: PreparedContainer, instance_type: str | None, count: int,
                         memory_mb: int | None = None) -> str | None:
        """Why the cluster's live nodes, empty, could never hold ``count`` instances of the type at once
        (with the numbers); None when they could, for an image that runs here, or while the GCS is away
        (then each instance waits for its node as usual)."""
        if prepared.image.kind != "toolkit" or not gcs_answers(self.gcs):
            return None
        wanted = resources_for(instance_type, memory_mb)
        single = self._fit_problem(wanted, instance_type)
        if single is not None or count <= 1:
            return single
        reason = cluster_cannot_hold(wanted, count, live_node_resources(self._ray), what="instances",
                                     setting="instance count")
        if reason is None:
            return None
        return (f"The Ray cluster can never hold {count} instances of type {instance_type or 'unknown'} at once: "
                f"{reason}")

    async def wait_ready(self, instance: Instance, timeout: float) -> None:
        """As the local launcher: ping until healthy (the remote process and logs tell of an early end)."""
        await self.local.wait_ready(instance, timeout)

    def stop(self, instance: Instance, grace: float) -> None:
        """Stop a remote instance's container and actor (a local one: the local launcher)."""
        with self._lock:
            remote = self._remotes.pop(instance.instance_id, None)
        if remote is None:
            self.local.stop(instance, grace)
            return
        instance.stopping = True
        self._stop_remote(remote, grace)
        remote.process.end(remote.process.returncode if remote.process.returncode is not None else 0)
        remote.stopped.set()
        self._discard(remote)

    def close(self) -> None:
        """Stop every remote instance still running (server shutdown)."""
        with self._lock:
            remotes = list(self._remotes.values())
            self._remotes.clear()
        for remote in remotes:
            remote.stopped.set()
            self._discard(remote)

    # internals

    def _check_fits(self, wanted: ActorResources, instance_type: str | None) -> None:
        problem = self._fit_problem(wanted, instance_type)
        if problem is not None:
            raise InstanceFailed(problem)

    def _fit_problem(self, wanted: ActorResources, instance_type: str | None) -> str | None:
        reason = no_node_fits(wanted, live_node_resources(self._ray))
        if reason is None:
            return None
        return f"No node of the Ray cluster can ever hold an instance of type {instance_type or 'unknown'}: {reason}"

    def _artifact(self, prepared: PreparedContainer) -> tuple[int, Any]:
        """The prepared model files as a Ray object, put once per prepared container."""
        key = id(prepared)
        with self._lock:
            held = self._artifacts.get(key)
            if held is not None:
                self._artifacts[key] = (held[0], held[1], held[2] + 1)
                return key, held[1]
        ref = self._ray.put(pack(prepared.model_dir, _external_code(prepared)))
        with self._lock:
            held = self._artifacts.get(key)
            if held is not None:
                self._artifacts[key] = (held[0], held[1], held[2] + 1)
                return key, held[1]
            self._artifacts[key] = (prepared, ref, 1)
        return key, ref

    def _discard(self, remote: _Remote) -> None:
        if gcs_answers(self.gcs):
            with contextlib.suppress(Exception):
                self._ray.kill(remote.actor)
        with self._lock:
            held = self._artifacts.get(remote.artifact_key)
            if held is not None:
                if held[2] <= 1:
                    del self._artifacts[remote.artifact_key]
                else:
                    self._artifacts[remote.artifact_key] = (held[0], held[1], held[2] - 1)

    def _stop_actor(self, instance_id: str, grace: float) -> None:
        with self._lock:
            remote = self._remotes.get(instance_id)
        if remote is not None:
            self._stop_remote(remote, grace)

    def _stop_remote(self, remote: _Remote, grace: float) -> None:
        if remote.process.lost or not gcs_answers(self.gcs):
            return
        with contextlib.suppress(Exception):
            self._ray.get(remote.actor.stop.remote(grace), timeout=grace + 10.0)

    def _follow(self, instance_id: str, remote: _Remote) -> None:
        """Copy the instance's log events here and learn of its end, until it ends or is stopped."""
        ray = self._ray
        token: str | None = None
        while not remote.stopped.is_set():
            ref = remote.actor.follow.remote(token, FOLLOW_WAIT_SECONDS)
            try:
                while True:
                    ready, _ = ray.wait([ref], timeout=FOLLOW_WAIT_SECONDS + 5.0)
                    if ready or remote.stopped.is_set():
                        break
                if remote.stopped.is_set():
                    return
                progress: Progress = ray.get(ref)
            except Exception as exc:
                if remote.stopped.is_set():
                    return
                node = remote.placed.node_id if remote.placed else "unknown"
                remote.writer.write_line(f"modelyard: the instance's Ray actor on node {node} is gone "
                                         f"({type(exc).__name__}); the node was lost or the actor died")
                log.warning("instance %s on Ray node %s lost: %s", instance_id, node, exc)
                remote.process.lose()
                return
            if progress.events:
                remote.writer.write_events(progress.events)
            if progress.usage is not None:
                remote.process.usage = progress.usage
            token = progress.token
            if progress.returncode is not None:
                remote.process.end(progress.returncode, progress.limit)
                return


def _ending(process: RemoteProcess) -> Ending | None:
    """How a remote instance's container ended, once that is known."""
    if not process.settled():
        return None
    breach = process.limit_exceeded()
    return Ending(breach.message if breach else None)


def _external_code(prepared: PreparedContainer) -> Path | None:
    """The code directory when it is not inside the model directory (it travels separately)."""
    code = prepared.code_dir
    if code is None or (prepared.model_dir is not None and (code == prepared.model_dir
                                                            or prepared.model_dir in code.parents)):
        return None
    return code


def _code_in_model(prepared: PreparedContainer) -> str | None:
    """Where the code directory lies inside the model directory, when it does."""
    code, model = prepared.code_dir, prepared.model_dir
    if code is None or model is None or _external_code(prepared) is not None:
        return None
    return code.relative_to(model).as_posix()


def _start_failure(exc: BaseException, wanted: ActorResources) -> str:
    """A FailureReason for an instance whose actor did not start."""
    name = type(exc).__name__
    if name == "GetTimeoutError":
        return (f"No node of the Ray cluster had {wanted.describe()} free within {START_TIMEOUT_SECONDS:g} seconds "
                "(or preparing the model there took longer)")
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return f"The Ray node could not start the instance: {cause}"
    return f"The Ray node could not start the instance: {name}: {exc}"
