"""Single-host training and processing jobs on a Ray cluster: one actor per job (``job_host``), scheduled
with the instance type's resources, running the container in the sandbox of its node.

    staged /opt/ml (inputs, config, code) packed ─► actor JobHost.run ─► the node builds the environment,
                                                                         translates the spec's server paths
    follower: actor.follow ─► each line into the job's log tap (log stream, metric definitions, failure lines)
    wait: the end, a stop request (the actor stops the container with the grace), or a lost node
    after the end: actor.collect ─► /opt/ml without the inputs, unpacked over the job's workspace here,
        so the runner uploads the model and outputs as for a local job
    a lost node: the job fails (InternalServerError) naming the node; nothing is uploaded
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelyard.controllers.jobs.controller import POLL_SECONDS, JobRun, StopRequested
from modelyard.controllers.jobs.data import JobDataError
from modelyard.controllers.jobs.hosts import HostsEnd
from modelyard.controllers.jobs.placement import JobHosts, JobLaunch
from modelyard.controllers.jobs.tools import LogTap
from modelyard.controllers.ray.cluster import gcs_address, gcs_answers
from modelyard.controllers.ray.job_host import JobHost, JobRequest, pack_tree
from modelyard.controllers.ray.node_host import Progress, unpack
from modelyard.controllers.ray.placement import (
    FOLLOW_WAIT_SECONDS,
    START_TIMEOUT_SECONDS,
    RemoteProcess,
)
from modelyard.controllers.ray.resources import no_node_fits, resources_for
from modelyard.runtime.process import ContainerSpec

log = logging.getLogger("modelyard.controllers.ray.jobs")


class RayJobs:
    """Places single-host jobs on the Ray cluster this server has joined (``RemoteJobs``)."""

    def __init__(self, *, node_root: Path, sandbox: bool | None, stop_grace: float) -> None:
        import ray

        self._ray = ray
        self.gcs = gcs_address()
        self.node_root = node_root
        self.sandbox = sandbox
        self.stop_grace = stop_grace
        self.actor_class: Any = ray.remote(JobHost)

    def hosts(self, job: JobRun, what: str, launch: JobLaunch) -> JobHosts:
        """The one host of ``job``, on a node of the cluster."""
        return RayJobHost(self, job, what, launch)

    def live_nodes(self) -> list[dict[str, float]]:
        """Each live node's total resources."""
        return [node["Resources"] for node in self._ray.nodes() if node.get("Alive")]  # type: ignore[no-untyped-call]


class RayJobHost:
    """A job's single host on a Ray node."""

    def __init__(self, jobs: RayJobs, job: JobRun, what: str, launch: JobLaunch) -> None:
        self.jobs = jobs
        self.job = job
        self.what = what
        self.launch = launch
        self.processes: list[RemoteProcess] = []
        self._actor: Any = None
        self._node = "unknown"
        self._done = threading.Event()

    def run(self, specs: Sequence[ContainerSpec], taps: Sequence[LogTap]) -> HostsEnd:
        """Run the container on a node; its /opt/ml comes back over the workspace's."""
        spec, tap = specs[0], taps[0]
        ray = self.jobs._ray
        if not gcs_answers(self.jobs.gcs):
            raise JobDataError(f"InternalServerError: the Ray cluster's GCS at {self.jobs.gcs} does not answer; "
                               "start the job again once it does")
        wanted = resources_for(self.launch.instance_type)
        reason = no_node_fits(wanted, self.jobs.live_nodes())
        if reason is not None:
            raise JobDataError(f"CapacityError: no node of the Ray cluster can ever hold the {self.what} job's "
                               f"{self.launch.instance_type or 'instance'}: {reason}")
        tap.note(f"placing the {self.what} container on the Ray cluster ({wanted.describe()})")
        self._actor = self.jobs.actor_class.options(
            num_cpus=wanted.cpus, memory=wanted.memory_bytes, num_gpus=wanted.gpus, max_restarts=0,
            max_concurrency=4, name=f"modelyard-{self.what}-{self.job.name}-{secrets.token_hex(3)}").remote()
        try:
            return self._run(ray, spec, tap)
        finally:
            self._done.set()
            if gcs_answers(self.jobs.gcs):
                with contextlib.suppress(Exception):
                    ray.get(self._actor.remove.remote(), timeout=30)
                with contextlib.suppress(Exception):
                    ray.kill(self._actor)

    def _run(self, ray: Any, spec: ContainerSpec, tap: LogTap) -> HostsEnd:
        request = self._request(spec)
        ref = self._actor.run.remote(request, pack_tree(spec.opt_ml, []))
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not ray.wait([ref], timeout=POLL_SECONDS)[0]:
            self.job.check()
            if time.monotonic() > deadline:
                raise JobDataError(f"CapacityError: no node of the Ray cluster had room for the {self.what} job "
                                   f"within {START_TIMEOUT_SECONDS:g} seconds")
        try:
            self._node = ray.get(ref)
        except Exception as exc:
            cause = getattr(exc, "cause", None)
            raise JobDataError(f"ClientError: the Ray node could not start the {self.what} container: "
                               f"{cause if isinstance(cause, BaseException) else exc}") from None
        tap.note(f"running on Ray node {self._node}")
        process = RemoteProcess(lambda grace: None)
        self.processes.append(process)
        follower = threading.Thread(target=self._follow, args=(process, tap), name=f"ray-job-{self.job.name}",
                                    daemon=True)
        follower.start()
        stopped = False
        while process.wait(POLL_SECONDS) is None:
            try:
                self.job.check()
            except StopRequested:
                stopped = True
                with contextlib.suppress(Exception):
                    ray.get(self._actor.stop.remote(self.jobs.stop_grace), timeout=self.jobs.stop_grace + 30)
                process.wait(10.0)
                break
        follower.join(10.0)
        if process.lost:
            raise JobDataError(f"InternalServerError: the Ray node {self._node} running the {self.what} container "
                               "was lost (the node or the job's actor died); start the job again")
        self._collect(ray, spec)
        code = process.returncode
        if stopped:
            return HostsEnd([None], None, True)
        if code not in (None, 0):
            return HostsEnd([code], 0, False)
        return HostsEnd([code], 0 if process.limit_exceeded() else None, False)

    def _request(self, spec: ContainerSpec) -> JobRequest:
        run_id = f"{self.job.name}-{secrets.token_hex(4)}"
        return JobRequest(
            run_id=run_id, account=self.job.account, region=self.job.region,
            log_group=f"/modelyard/ray-jobs/{self.what}", stream=run_id, argv=list(spec.argv), env=dict(spec.env),
            workdir=str(spec.workdir) if spec.workdir else None, writable=list(spec.writable),
            network_isolated=spec.network_isolated, name=spec.name, limits=spec.limits, hostname=spec.hostname,
            hosts_file=spec.hosts_file, image=self.launch.image, requirements=self.launch.requirements,
            server_opt_ml=str(spec.opt_ml), server_environment=str(self.launch.environment.path),
            server_toolkit=self.launch.toolkit, sandbox=self.jobs.sandbox, node_root=str(self.jobs.node_root))

    def _collect(self, ray: Any, spec: ContainerSpec) -> None:
        """Bring the node's /opt/ml (without the inputs) back over the workspace's."""
        try:
            tree = ray.get(self._actor.collect.remote(list(self.launch.inputs)), timeout=START_TIMEOUT_SECONDS)
        except Exception as exc:
            raise JobDataError(f"ClientError: the {self.what} job's results could not be fetched from Ray node "
                               f"{self._node}: {type(exc).__name__}") from None
        unpack(tree, spec.opt_ml)

    def _follow(self, process: RemoteProcess, tap: LogTap) -> None:
        ray = self.jobs._ray
        token: str | None = None
        while not self._done.is_set():
            ref = self._actor.follow.remote(token, FOLLOW_WAIT_SECONDS)
            try:
                while not ray.wait([ref], timeout=FOLLOW_WAIT_SECONDS + 5.0)[0]:
                    if self._done.is_set():
                        return
                progress: Progress = ray.get(ref)
            except Exception as exc:
                if not self._done.is_set():
                    tap.note(f"the job's Ray actor on node {self._node} is gone ({type(exc).__name__}); "
                             "the node was lost or the actor died")
                    log.warning("job %s on Ray node %s lost: %s", self.job.name, self._node, exc)
                    process.lose()
                return
            for stamp, text in progress.events:
                if text.startswith("modelyard: "):
                    tap.writer.write_line(text, stamp)
                else:
                    tap.write_line(text, stamp)
            token = progress.token
            if progress.returncode is not None:
                process.end(progress.returncode, progress.limit)
                return
