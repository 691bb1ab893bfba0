"""Launch one serving instance of a prepared container, and wait until it is ready.

    <data_dir>/instances/<region>/<endpoint>/<instance-id>/opt_ml   -> /opt/ml (writable)
    model artifact (cache, read-only)                                -> /opt/ml/model
    external code dir (sourcedir.tar.gz, read-only)                  -> /opt/ml/code
    <data_dir>/sock/<id>/                                            -> same path (toolkit's unix socket)

Our toolkit is reached over its unix socket with frames; a bring-your-own image serves HTTP on a
loopback port given in SAGEMAKER_BIND_TO_PORT, chosen below 32767 (servers written for SageMaker's
fixed 8080 may keep ports in a Java ``short``: multi-model-server refuses larger ones). Output goes
to the log store, one stream per instance (``<variant>/<instance-id>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import secrets
import shutil
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from modelyard.controllers.preparation import PreparedContainer
from modelyard.hosting.http_instance import HttpInstance
from modelyard.hosting.instances import Ending, FramedInstance, InstanceClient
from modelyard.logstore import LogStore, LogWriter, pump
from modelyard.runtime.containers import ContainerProcess
from modelyard.runtime.environments import toolkit_pythonpath
from modelyard.runtime.limits import Breach, limits_for
from modelyard.runtime.process import ContainerSpec, ProcessBackend, reveal_host_paths
from modelyard.toolkit.environment import VCPUS_VARIABLE

FAILURE_LINE = re.compile(r"modelyard-toolkit: (model_fn|handler load) failed: (.*)")


class InstanceFailed(Exception):
    """An instance could not become ready; the message is a FailureReason."""


class InstanceProcess(Protocol):
    """What controllers use of an instance's container, wherever it runs (``ContainerProcess`` here,
    ``controllers.ray.placement.RemoteProcess`` on a cluster node)."""

    @property
    def returncode(self) -> int | None:
        """The exit status once the container has ended."""

    def poll(self) -> int | None:
        """The exit status, or None while the container runs."""

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds; the exit status, or None if still running."""

    def pids(self) -> list[int]:
        """The container's host pids (none for a container on another machine)."""

    def stop(self, grace: float = 30.0) -> int:
        """SIGTERM, ``grace`` seconds, SIGKILL; the exit status."""

    def settled(self) -> bool:
        """Whether the container has ended and its limits' watch has had its say."""

    def limit_exceeded(self, timeout: float = 5.0) -> Breach | None:
        """The limit that ended the container, or None."""


@dataclass
class Instance:
    """One running container instance of a variant."""

    instance_id: str
    variant: str
    prepared: PreparedContainer
    process: InstanceProcess
    client: InstanceClient
    directory: Path
    socket_dir: Path | None
    log_group: str
    log_stream: str
    writer: LogWriter
    restarts: int = 0
    stopping: bool = field(default=False)
    port: int | None = None
    logs: LogStore | None = None
    """The log groups of the instance's account and region."""
    members: list[Instance] = field(default_factory=list)
    """A multi-container instance's containers, each an instance of its own (``controllers.container_group``)."""
    container: str | None = None
    """The container's name, for a member of a multi-container instance."""
    node: str | None = None
    """The cluster node the instance runs on (None: this machine)."""


BYOC_PORTS = range(20000, 32767)


def local_process(instance: Instance) -> ContainerProcess:
    """The container of an instance the local launcher started (multi-container and multi-model
    instances, transform jobs: never placed elsewhere)."""
    process = instance.process
    if not isinstance(process, ContainerProcess):
        raise TypeError(f"instance {instance.instance_id} does not run on this machine")
    return process


def new_instance_id() -> str:
    """A fresh instance id, shaped like EC2's."""
    return f"i-{secrets.token_hex(8)}"


def _free_port(taken: set[int]) -> int:
    """A port of BYOC_PORTS free on every interface (containers often bind 0.0.0.0) and not in ``taken``."""
    for _ in range(500):
        port = BYOC_PORTS[secrets.randbelow(len(BYOC_PORTS))]
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                continue
        return port
    raise InstanceFailed(f"No free TCP port in {BYOC_PORTS.start}-{BYOC_PORTS.stop - 1} for the container")


def _bridged(argv: list[str], python: str, socket: Path, port: int) -> list[str]:
    """``argv`` started beside the unix-socket bridge to its port (``toolkit/tcp_bridge.py``); the
    bridge ends with the sandbox's pid namespace when the serve program exits."""
    import modelyard.toolkit.tcp_bridge as bridge

    script = 'py=$1 bridge=$2 sock=$3 port=$4; shift 4; "$py" -I "$bridge" "$sock" "$port" & exec "$@"'
    return ["/bin/sh", "-c", script, "modelyard-bridge", python, str(Path(bridge.__file__).resolve()),
            str(socket), str(port), *argv]


def _ending(process: InstanceProcess) -> Ending | None:
    """How the instance's container ended, once it has and its watchdog has had its say; else None."""
    if not process.settled():
        return None
    breach = process.limit_exceeded(0.0)
    return Ending(breach.message if breach else None)


class Launcher:
    """Starts, checks and stops instances."""

    def __init__(self, backend: ProcessBackend, logs: LogStore, data_dir: Path) -> None:
        self.backend = backend
        self.logs = logs
        self.data_dir = data_dir
        self._ports: set[int] = set()
        self._ports_lock = threading.Lock()

    def start(self, region: str, endpoint: str, variant: str, prepared: PreparedContainer,
              network_isolated: bool, log_group: str, instance_type: str | None = None, *,
              account: str, volume_gb: int | None = None, memory_mb: int | None = None,
              stream: str | None = None, extra_env: dict[str, str] | None = None,
              instance_id: str | None = None, container: str | None = None) -> Instance:
        """Start an instance process (blocking; call from a worker thread) with the limits of
        ``instance_type`` (or ``memory_mb``: a serverless variant's memory) and a disk budget of
        ``volume_gb`` (see ``runtime.limits``); its output goes to ``stream`` (default
        ``<variant>/<instance-id>``), ``extra_env`` is added to its environment. A ``container`` of a
        multi-container instance ``instance_id`` gets its own directory under the instance's."""
        instance_id = instance_id or new_instance_id()
        directory = self.data_dir / "instances" / region / endpoint / instance_id
        if container is not None:
            directory = directory / container
        opt_ml = directory / "opt_ml"
        (opt_ml / "model").mkdir(parents=True, exist_ok=True)
        spec = ContainerSpec(argv=[], opt_ml=opt_ml, network_isolated=network_isolated,
                             name=f"{endpoint}/{variant}/{instance_id}", capture_output=True,
                             limits=limits_for(instance_type, volume_gb, memory_mb=memory_mb))
        env = dict(prepared.plan.environment)
        model_inside = str(opt_ml / "model")
        if prepared.model_dir is not None:
            spec.ro_binds.append((prepared.model_dir, "/opt/ml/model"))
            model_inside = self.backend.inside_path(spec, prepared.model_dir) if self.backend.sandboxed \
                else str(prepared.model_dir)
        if prepared.code_dir is not None and (prepared.model_dir is None
                                              or prepared.model_dir not in prepared.code_dir.parents):
            spec.ro_binds.append((prepared.code_dir, "/opt/ml/code"))
            env["SAGEMAKER_SUBMIT_DIRECTORY"] = self.backend.inside_path(spec, prepared.code_dir)
        elif not self.backend.sandboxed and prepared.code_dir is not None:
            env["SAGEMAKER_SUBMIT_DIRECTORY"] = str(prepared.code_dir)
        image = prepared.image
        spec.writable = list(image.writable)
        env.update(image.env)
        env.update(prepared.environment.env_vars())
        env.update({"SAGEMAKER_MODEL_DIR": model_inside, "SM_MODEL_DIR": model_inside,
                    "SAGEMAKER_REGION": region, "AWS_REGION": region,
                    "MODELYARD_ENDPOINT": endpoint, "MODELYARD_INSTANCE_ID": instance_id, **(extra_env or {})})
        reveal_host_paths(spec, prepared.environment.path, image.directory)
        socket_dir, port = None, None
        if image.kind == "toolkit":
            socket_dir = self._socket_dir(spec)
            env["MODELYARD_SOCKET"] = str(socket_dir / "m.sock")
            env[VCPUS_VARIABLE] = str(spec.limits.vcpus)
            if image.framework:
                env["MODELYARD_FRAMEWORK"] = image.framework
            env["PYTHONPATH"] = toolkit_pythonpath(self.data_dir / "toolkit-path")
            reveal_host_paths(spec, env["PYTHONPATH"])
            client: InstanceClient = FramedInstance(str(socket_dir / "m.sock"))
        else:
            port = self._take_port()
            env["SAGEMAKER_BIND_TO_PORT"] = str(port)
            client = HttpInstance(port)
            if self.backend.sandboxed:
                socket_dir = self._socket_dir(spec)
                bridge = toolkit_pythonpath(self.data_dir / "toolkit-path")
                reveal_host_paths(spec, bridge)
                client = HttpInstance(port, unix_socket=str(socket_dir / "http.sock"))
        spec.env = env
        stream = stream or f"{variant}/{instance_id}"
        try:
            spec.argv = prepared.environment.command(image.command("serve"))
            if image.kind != "toolkit" and socket_dir is not None and port is not None:
                spec.argv = _bridged(spec.argv, str(prepared.environment.python), socket_dir / "http.sock", port)
            logs = self.logs.scoped(account, region)
            writer = logs.writer(log_group, stream)
            spec.note = lambda text: writer.write_line(f"modelyard: {text}")
            if not self.backend.sandboxed:
                writer.write_line(f"modelyard: sandbox is off ({self.backend.sandbox_problem}); "
                                  "running as a plain process")
            else:
                kind = f"serverless, {memory_mb} MB" if memory_mb else instance_type or "unknown instance type"
                writer.write_line(f"modelyard: {kind}: "
                                  f"{self.backend.describe_limits(spec.limits)}")
            process = self.backend.start(spec)
        except BaseException:
            self._release_port(port)
            raise
        assert process.stdout is not None
        client.ended = functools.partial(_ending, process)
        pump(cast(BinaryIO, process.stdout), writer, name=f"log-{instance_id}")
        return Instance(instance_id, variant, prepared, process, client, directory, socket_dir, log_group,
                        stream, writer, port=port, logs=logs, container=container)

    def _socket_dir(self, spec: ContainerSpec) -> Path:
        """A fresh directory for the instance's unix socket, bound writable at the same path: only this
        instance sees it (siblings' socket directories are not in its view)."""
        socket_dir = self.data_dir / "sock" / secrets.token_hex(4)
        socket_dir.mkdir(parents=True)
        spec.binds.append((socket_dir, str(socket_dir), True))
        return socket_dir

    def _take_port(self) -> int:
        with self._ports_lock:
            port = _free_port(self._ports)
            self._ports.add(port)
            return port

    def _release_port(self, port: int | None) -> None:
        with self._ports_lock:
            self._ports.discard(port)

    def capacity_problem(self, prepared: PreparedContainer, instance_type: str | None, count: int,
                         memory_mb: int | None = None) -> str | None:
        """None: an endpoint's instances on this machine share its cores and memory, however many they are
        (each container's own limits still hold)."""
        return None

    async def wait_ready(self, instance: Instance, timeout: float) -> None:
        """Return once the instance answers its health check; raise InstanceFailed if it dies or times out
        (a multi-container instance: once every container answers; the failure names the container)."""
        if instance.members:
            await asyncio.gather(*(self.wait_ready(member, timeout) for member in instance.members))
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.02
        while True:
            if instance.process.poll() is not None:
                await asyncio.sleep(0.2)
                raise InstanceFailed(self.failure_reason(instance))
            if await instance.client.ping(timeout=2.0):
                return
            if loop.time() > deadline:
                raise InstanceFailed(f"The instance did not pass the /ping health check within {timeout:g} "
                                     f"seconds; see log stream {instance.log_stream}")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def failure_reason(self, instance: Instance) -> str:
        """Why an instance exited, from its last log lines."""
        lines = (instance.logs or self.logs).tail(instance.log_group, instance.log_stream, 40)
        which = f"Container {instance.container}: " if instance.container is not None else ""
        for line in reversed(lines):
            found = FAILURE_LINE.search(line)
            if found:
                return f"{which}{found.group(1)} failed: {found.group(2).strip()}"
        useful = [line for line in lines if line.strip() and not line.startswith("modelyard:")]
        last = useful[-1].strip() if useful else "no output"
        code = instance.process.returncode
        return f"{which}The container exited with code {code} before it was ready: {last}"

    def stop(self, instance: Instance, grace: float) -> None:
        """Stop the process and remove the instance's files (blocking); a multi-container instance's
        containers all stop at once."""
        instance.stopping = True
        if instance.members:
            instance.process.stop(grace=grace)
            for member in instance.members:
                self.stop(member, grace)
            shutil.rmtree(instance.directory, ignore_errors=True)
            with contextlib.suppress(OSError):
                instance.directory.parent.rmdir()
            return
        if instance.process.poll() is None:
            instance.process.stop(grace=grace)
        instance.writer.close()
        shutil.rmtree(instance.directory, ignore_errors=True)
        if instance.socket_dir is not None:
            shutil.rmtree(instance.socket_dir, ignore_errors=True)
        self._release_port(instance.port)
        with contextlib.suppress(OSError):
            instance.directory.parent.rmdir()
