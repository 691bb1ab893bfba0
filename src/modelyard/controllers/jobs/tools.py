"""What job runners share: the runtime parts, a job's workspace, its log stream, its container.

    <data_dir>/jobs/<account>/<region>/<family>/<name>/opt_ml   ──► /opt/ml in the sandbox
                                                     /work     ──► packing space, never mounted
The workspace is removed when the job ends (its results are in the object store and the log store).

The log tap sits between the container's output pump and the log stream: every line also feeds the
job's metric tracker and a short memory of recent lines (for failure reasons).
"""

from __future__ import annotations

import collections
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from modelyard.jobs.metrics import MetricTracker
from modelyard.logstore import LogStore, LogWriter, pump
from modelyard.runtime.containers import ContainerProcess
from modelyard.runtime.environments import Environment, EnvironmentBuilder
from modelyard.runtime.images import ImageRegistry, ImageSpec
from modelyard.runtime.limits import limits_for
from modelyard.runtime.process import ContainerSpec, ProcessBackend, reveal_host_paths
from modelyard.storage import ArtifactCache, ObjectStore

if TYPE_CHECKING:
    from modelyard.controllers.jobs.placement import RemoteJobs
    from modelyard.controllers.launcher import InstanceProcess

OPT_ML = PurePosixPath("/opt/ml")
RECENT_LINES = 60


@dataclass
class JobTools:
    """The runtime parts a job runner uses."""

    images: ImageRegistry
    builder: EnvironmentBuilder
    store: ObjectStore
    cache: ArtifactCache
    backend: ProcessBackend
    logs: LogStore
    data_dir: Path
    remote: RemoteJobs | None = None
    """Where jobs of framework images run when not here (a Ray cluster); None: everything runs here."""


@dataclass
class Workspace:
    """A job's directories on the host."""

    root: Path

    @property
    def opt_ml(self) -> Path:
        """The host directory mounted as /opt/ml."""
        return self.root / "opt_ml"

    @property
    def work(self) -> Path:
        """Scratch space outside the container (tarballs being packed)."""
        return self.root / "work"

    def host_path(self, inside: str | PurePath) -> Path:
        """The host path of a path under /opt/ml inside the container."""
        relative = PurePosixPath(inside).relative_to(OPT_ML)
        return self.opt_ml.joinpath(*relative.parts)


def new_workspace(data_dir: Path, family: str, account: str, region: str, name: str) -> Workspace:
    """A fresh, empty workspace for one job."""
    workspace = Workspace(data_dir / "jobs" / account / region / family / name)
    shutil.rmtree(workspace.root, ignore_errors=True)
    workspace.opt_ml.mkdir(parents=True)
    workspace.work.mkdir(parents=True)
    return workspace


class LogTap:
    """Stands in for a LogWriter: writes each line, feeds the metric tracker, remembers recent lines."""

    def __init__(self, writer: LogWriter, metrics: MetricTracker | None = None) -> None:
        self.writer = writer
        self.path = writer.path
        self.metrics = metrics
        self.recent: collections.deque[str] = collections.deque(maxlen=RECENT_LINES)
        self._lock = threading.Lock()

    def write_line(self, text: str, timestamp_ms: int | None = None) -> None:
        """Store one line of container output."""
        self.writer.write_line(text, timestamp_ms)
        with self._lock:
            self.recent.append(text)
            if self.metrics is not None:
                self.metrics.observe(text, time.time() if timestamp_ms is None else timestamp_ms / 1000)

    def note(self, text: str) -> None:
        """A line of modelyard's own (kept out of failure reasons by its prefix)."""
        self.writer.write_line(f"modelyard: {text}")

    def lines(self) -> list[str]:
        """The most recent lines, oldest first."""
        with self._lock:
            return list(self.recent)

    def close(self) -> None:
        """Close the underlying stream writer."""
        self.writer.close()


def open_log(logs: LogStore, group: str, name: str, metrics: MetricTracker | None = None,
             host: str = "algo-1") -> LogTap:
    """The log stream ``<name>/<host>-<epoch>`` of one host of the job in ``group``."""
    return LogTap(logs.writer(group, f"{name}/{host}-{int(time.time())}"), metrics)


def build_environment(tools: JobTools, image: ImageSpec, requirements: str | None, tap: LogTap) -> Environment:
    """The job's environment (built once per image + requirements, reused after)."""
    progress: Callable[[str], None] = tap.note
    return tools.builder.ensure(image, requirements, progress=progress)


def container_spec(tools: JobTools, workspace: Workspace, *, name: str, argv: list[str], env: dict[str, str],
                   environment: Environment, image: ImageSpec, network_isolated: bool,
                   workdir: Path | None = None, instance_type: str | None = None,
                   volume_gb: int | None = None) -> ContainerSpec:
    """A spec with /opt/ml bound to the workspace, the environment and image bound read-only, and the
    limits of ``instance_type`` with a disk budget of ``volume_gb``."""
    spec = ContainerSpec(argv=argv, opt_ml=workspace.opt_ml, env=env, network_isolated=network_isolated,
                         name=name, capture_output=True, workdir=workdir, writable=list(image.writable),
                         limits=limits_for(instance_type, volume_gb))
    reveal_host_paths(spec, environment.path, image.directory)
    return spec


def start_container(tools: JobTools, spec: ContainerSpec, tap: LogTap) -> tuple[ContainerProcess, threading.Thread]:
    """Start the container with its output pumped into the log tap (which first notes its limits)."""
    spec.note = tap.note
    if tools.backend.sandboxed:
        tap.note(tools.backend.describe_limits(spec.limits))
    process = tools.backend.start(spec)
    assert process.stdout is not None
    thread = pump(cast(BinaryIO, process.stdout), cast(LogWriter, tap), name=f"log-{spec.name}")
    return process, thread


def limit_failure(process: InstanceProcess, what: str) -> str | None:
    """The FailureReason of a job whose container was killed for going past a limit, else None."""
    breach = process.limit_exceeded()
    if breach is None:
        return None
    if breach.kind == "memory":
        return (f"OutOfMemoryError: the {what} container was {breach.message}; use an instance type with more "
                "memory, or reduce the data processed on one instance")
    return f"ClientError: the {what} container was {breach.message}; raise VolumeSizeInGB or write less"


def max_runtime_seconds(document: dict[str, Any]) -> float | None:
    """A job's StoppingCondition.MaxRuntimeInSeconds, if set."""
    value = (document.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
    return float(value) if value else None


class ScriptRunner:
    """What the training and processing runners share: their tools and the run-time limit."""

    def __init__(self, tools: JobTools) -> None:
        self.tools = tools

    def max_runtime(self, document: dict[str, Any]) -> float | None:
        """StoppingCondition.MaxRuntimeInSeconds."""
        return max_runtime_seconds(document)
