"""Training and processing jobs on a Ray cluster: one actor per host (``job_host``), scheduled with the
instance type's resources, each running its host's container in the sandbox of its node.

    one host     an actor wherever Ray finds room
    N hosts      a placement group of N bundles (SPREAD: on different nodes where they fit), so the hosts
                 start together or not at all; a job network across their nodes (``job_net``: each host's
                 switch, a TAP, frame forwarders joined under a per-job secret), probed before any program
                 runs: algo-1 listens in its sandbox, every other host must connect to it
    staged /opt/ml of host K (inputs, config, code) packed ─► actor K's run: the node builds the environment,
                 translates the spec's server paths
    followers: each actor's follow ─► each line into its host's log tap (log stream, metrics, failure lines)
    wait: every host's end, the first failure (the others are then stopped), a stop request (the actors
        stop the containers with the grace), or a lost node (the others are stopped)
    after the end: each actor's collect ─► its /opt/ml without the inputs, unpacked over its host's
        workspace here, so the runner uploads the model (algo-1's) and outputs as for a local job
    a lost node: the job fails (InternalServerError) naming the node (and host); nothing is uploaded
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
from modelyard.controllers.jobs.hosts import FAILURE_GRACE, HostsEnd
from modelyard.controllers.jobs.placement import JobHosts, JobLaunch
from modelyard.controllers.jobs.tools import LogTap
from modelyard.controllers.ray.cluster import gcs_address, gcs_answers, live_node_resources
from modelyard.controllers.ray.job_host import JobHost, JobRequest, pack_tree
from modelyard.controllers.ray.job_net import NetPlan
from modelyard.controllers.ray.job_tunnel import JOIN_TIMEOUT
from modelyard.controllers.ray.node_host import Progress, unpack
from modelyard.controllers.ray.placement import (
    FOLLOW_WAIT_SECONDS,
    START_TIMEOUT_SECONDS,
    RemoteProcess,
)
from modelyard.controllers.ray.resources import ActorResources, cluster_cannot_hold, resources_for
from modelyard.hosting.channel import new_secret
from modelyard.runtime.errors import UnknownImageError
from modelyard.runtime.images import ImageRegistry
from modelyard.runtime.job_network import host_address, hosts_file
from modelyard.runtime.process import ContainerSpec

log = logging.getLogger("modelyard.controllers.ray.jobs")
NETWORK_SETUP_SECONDS = 120.0


class RayJobs:
    """Places jobs on the Ray cluster this server has joined (``RemoteJobs``)."""

    def __init__(self, *, node_root: Path, sandbox: bool | None, stop_grace: float,
                 images: ImageRegistry | None = None) -> None:
        import ray

        self._ray = ray
        self.images = images
        self.gcs = gcs_address()
        self.node_root = node_root
        self.sandbox = sandbox
        self.stop_grace = stop_grace
        self.actor_class: Any = ray.remote(JobHost)

    def hosts(self, job: JobRun, what: str, launch: JobLaunch, hosts: Sequence[str]) -> JobHosts:
        """The hosts of ``job``, each on a node of the cluster."""
        return RayJobGroup(self, job, what, launch, hosts)

    def live_nodes(self) -> list[dict[str, float]]:
        """Each live node's total resources."""
        return live_node_resources(self._ray)

    def on_cluster(self, image: str) -> bool:
        """Whether jobs of ``image`` run here (framework images; a bring-your-own image's directory, or an
        image not known yet, is the server's machine's)."""
        if self.images is None:
            return False
        try:
            return self.images.resolve(image).kind == "toolkit"
        except UnknownImageError:
            return False

    def capacity_problem(self, instance_type: str | None, count: int) -> str | None:
        """Why ``count`` hosts of ``instance_type`` can never run at once on the live nodes (the check a job
        meets again when it is placed); None when they can or the GCS does not answer now."""
        if not gcs_answers(self.gcs):
            return None
        reason = cluster_cannot_hold(resources_for(instance_type), count, self.live_nodes())
        if reason is None:
            return None
        return f"no node of the Ray cluster can ever hold {'it' if count == 1 else 'them'}: {reason}"


class RayJobGroup:
    """A job's hosts on Ray nodes (``JobHosts``)."""

    def __init__(self, jobs: RayJobs, job: JobRun, what: str, launch: JobLaunch, hosts: Sequence[str]) -> None:
        self.jobs = jobs
        self.job = job
        self.what = what
        self.launch = launch
        self.hosts = list(hosts)
        self.processes: list[RemoteProcess] = []
        self._actors: list[Any] = []
        self._nodes = ["unknown"] * len(self.hosts)
        self._group: Any = None
        self._done = threading.Event()

    def run(self, specs: Sequence[ContainerSpec], taps: Sequence[LogTap]) -> HostsEnd:
        """Run the containers on the cluster's nodes; each /opt/ml comes back over its workspace's."""
        ray = self.jobs._ray
        if not gcs_answers(self.jobs.gcs):
            raise JobDataError(f"InternalServerError: the Ray cluster's GCS at {self.jobs.gcs} does not answer; "
                               "start the job again once it does")
        wanted = resources_for(self.launch.instance_type)
        reason = cluster_cannot_hold(wanted, len(self.hosts), self.jobs.live_nodes())
        if reason is not None:
            held = "" if len(self.hosts) == 1 else f"{len(self.hosts)} hosts of "
            raise JobDataError(f"CapacityError: no node of the Ray cluster can ever hold the {self.what} job's "
                               f"{held}{self.launch.instance_type or 'instance'}: {reason}")
        each = f"{len(self.hosts)} hosts of {wanted.describe()} each" if len(self.hosts) > 1 else wanted.describe()
        taps[0].note(f"placing the {self.what} container on the Ray cluster ({each})")
        try:
            self._place(ray, wanted)
            return self._run(ray, specs, taps)
        finally:
            self._done.set()
            self._remove(ray)

    def _place(self, ray: Any, wanted: ActorResources) -> None:
        """One actor per host; several hosts get a placement group, so they are placed together."""
        options: dict[str, Any] = {"num_cpus": wanted.cpus, "memory": wanted.memory_bytes, "num_gpus": wanted.gpus,
                                   "max_restarts": 0, "max_concurrency": 4}
        from ray.util.placement_group import placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        if len(self.hosts) > 1:
            bundle: dict[str, float] = {"CPU": wanted.cpus, "memory": wanted.memory_bytes}
            if wanted.gpus:
                bundle["GPU"] = wanted.gpus
            self._group = placement_group([dict(bundle) for _ in self.hosts], strategy="SPREAD",
                                          name=f"modelyard-{self.what}-{self.job.name}-{secrets.token_hex(3)}")
            self._wait(ray, self._group.ready(), f"no nodes of the Ray cluster had room for the {self.what} job's "
                                                 f"{len(self.hosts)} hosts")
        for index, host in enumerate(self.hosts):
            placed = dict(options)
            if self._group is not None:
                placed["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
                    placement_group=self._group, placement_group_bundle_index=index)
            self._actors.append(self.jobs.actor_class.options(
                name=f"modelyard-{self.what}-{self.job.name}-{host}-{secrets.token_hex(3)}", **placed).remote())

    def _wait(self, ray: Any, ref: Any, timeout_reason: str) -> None:
        """Wait for ``ref`` while the job may still run (StopRequested ends the wait)."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not ray.wait([ref], timeout=POLL_SECONDS)[0]:
            self.job.check()
            if time.monotonic() > deadline:
                raise JobDataError(f"CapacityError: {timeout_reason} within {START_TIMEOUT_SECONDS:g} seconds")

    def _run(self, ray: Any, specs: Sequence[ContainerSpec], taps: Sequence[LogTap]) -> HostsEnd:
        if len(self.hosts) > 1:
            self._connect(ray, taps)
        refs = [actor.run.remote(self._request(spec, host), pack_tree(spec.opt_ml, []))
                for actor, spec, host in zip(self._actors, specs, self.hosts, strict=True)]
        for index, ref in enumerate(refs):
            self._wait(ray, ref, f"no node of the Ray cluster had room for the {self.what} job")
            try:
                self._nodes[index] = ray.get(ref)
            except Exception as exc:
                cause = getattr(exc, "cause", None)
                raise JobDataError(f"ClientError: the Ray node could not start the {self.what} container"
                                   f"{self._of(index)}: {cause if isinstance(cause, BaseException) else exc}") from None
            taps[index].note(f"running on Ray node {self._nodes[index]}")
        if len(self.hosts) > 1:
            self._probe(ray)
            self._setup(ray, [actor.release.remote() for actor in self._actors], "start the hosts' programs")
        followers = []
        for index, tap in enumerate(taps):
            process = RemoteProcess(lambda grace: None)
            self.processes.append(process)
            followers.append(threading.Thread(target=self._follow, args=(index, process, tap), daemon=True,
                                              name=f"ray-job-{self.job.name}-{self.hosts[index]}"))
        for follower in followers:
            follower.start()
        end = self._until_end(ray)
        for follower in followers:
            follower.join(10.0)
        lost = next((index for index, process in enumerate(self.processes) if process.lost), None)
        if lost is not None:
            raise JobDataError(f"InternalServerError: the Ray node {self._nodes[lost]} running the {self.what} "
                               f"container{self._of(lost)} was lost (the node or the job's actor died); "
                               "start the job again")
        for index, spec in enumerate(specs):
            self._collect(ray, index, spec)
        return end

    def _connect(self, ray: Any, taps: Sequence[LogTap]) -> None:
        """Open each host's share of the job network and join the shares (ClientError naming the host that
        cannot reach another)."""
        secret = new_secret()
        refs = [actor.open_network.remote(NetPlan(self.job.name, self.hosts, index, secret))
                for index, actor in enumerate(self._actors)]
        peers = {}
        for index, ref in enumerate(refs):
            self._wait(ray, ref, f"no node of the Ray cluster had room for the {self.what} job")
            try:
                self._nodes[index], address, port = ray.get(ref)
            except Exception as exc:
                cause = getattr(exc, "cause", None)
                raise JobDataError(f"ClientError: the job network of {self.hosts[index]} could not be made on its "
                                   f"Ray node: {cause if isinstance(cause, BaseException) else exc}") from None
            peers[index] = (address, port)
            taps[index].note(f"job network: {self.hosts[index]}'s frame forwarder on Ray node {self._nodes[index]} "
                             f"at {address}:{port}")
        problems = self._setup(ray, [actor.join_network.remote(peers) for actor in self._actors],
                               "join the hosts' frame forwarders", JOIN_TIMEOUT + NETWORK_SETUP_SECONDS)
        self._refuse(problems)

    def _probe(self, ray: Any) -> None:
        """Every host connects to algo-1 over the job network before any program runs."""
        (port,) = self._setup(ray, [self._actors[0].probe_open.remote()], "listen in algo-1's network")
        try:
            problems = self._setup(ray, [actor.probe_reach.remote(host_address(0), port) for actor in self._actors[1:]],
                                   "probe the job network")
        finally:
            with contextlib.suppress(Exception):
                ray.get(self._actors[0].probe_close.remote(), timeout=30)
        self._refuse(problems)

    def _setup(self, ray: Any, refs: list[Any], what: str, timeout: float = NETWORK_SETUP_SECONDS) -> list[Any]:
        """The answers of one step of setting up the hosts; a step that fails or hangs (a node lost under
        it) fails the job saying which step."""
        try:
            return list(ray.get(refs, timeout=timeout))
        except Exception as exc:
            raise JobDataError(f"InternalServerError: could not {what} on the Ray nodes "
                               f"({', '.join(self._nodes)}): {type(exc).__name__}; start the job again") from None

    def _refuse(self, problems: Sequence[str | None]) -> None:
        problem = next((p for p in problems if p), None)
        if problem:
            raise JobDataError(f"ClientError: the hosts of the job cannot reach each other: {problem}")

    def _until_end(self, ray: Any) -> HostsEnd:
        """Wait for every host's end, the first failure or loss (the others are then stopped), or a stop."""
        while True:
            codes = [process.poll() for process in self.processes]
            failed = next((index for index, code in enumerate(codes) if code not in (None, 0)), None)
            if failed is not None:
                if len(self.processes) > 1:
                    self._stop(ray, FAILURE_GRACE)
                return HostsEnd([process.poll() for process in self.processes], failed, False)
            if all(code == 0 for code in codes):
                over = next((index for index, process in enumerate(self.processes) if process.limit_exceeded()),
                            None)
                return HostsEnd(list(codes), over, False)
            try:
                self.job.check()
            except StopRequested:
                self._stop(ray, self.jobs.stop_grace)
                return HostsEnd([None] * len(self.processes), None, True)
            time.sleep(POLL_SECONDS)

    def _stop(self, ray: Any, grace: float) -> None:
        """Stop every host's container that still runs (SIGTERM, ``grace``, SIGKILL), all at once."""
        refs = [actor.stop.remote(grace) for actor, process in zip(self._actors, self.processes, strict=True)
                if process.poll() is None]
        with contextlib.suppress(Exception):
            ray.get(refs, timeout=grace + 30)
        for process in self.processes:
            process.wait(10.0)

    def _of(self, index: int) -> str:
        return f" of {self.hosts[index]}" if len(self.hosts) > 1 else ""

    def _request(self, spec: ContainerSpec, host: str) -> JobRequest:
        run_id = f"{self.job.name}-{host}-{secrets.token_hex(4)}"
        local_hosts = None if len(self.hosts) > 1 else hosts_file([host], ["127.0.0.1"])
        return JobRequest(
            run_id=run_id, account=self.job.account, region=self.job.region,
            log_group=f"/modelyard/ray-jobs/{self.what}", stream=run_id, argv=list(spec.argv), env=dict(spec.env),
            workdir=str(spec.workdir) if spec.workdir else None, writable=list(spec.writable),
            network_isolated=spec.network_isolated, name=spec.name, limits=spec.limits, hostname=host,
            hosts_file=local_hosts, image=self.launch.image, requirements=self.launch.requirements,
            server_opt_ml=str(spec.opt_ml), server_environment=str(self.launch.environment.path),
            server_toolkit=self.launch.toolkit, sandbox=self.jobs.sandbox, node_root=str(self.jobs.node_root))

    def _collect(self, ray: Any, index: int, spec: ContainerSpec) -> None:
        """Bring host ``index``'s /opt/ml (without the inputs) back over its workspace's."""
        try:
            tree = ray.get(self._actors[index].collect.remote(list(self.launch.inputs)),
                           timeout=START_TIMEOUT_SECONDS)
        except Exception as exc:
            raise JobDataError(f"ClientError: the {self.what} job's results could not be fetched from Ray node "
                               f"{self._nodes[index]}{self._of(index)}: {type(exc).__name__}") from None
        unpack(tree, spec.opt_ml)

    def _remove(self, ray: Any) -> None:
        """Remove every actor's files and the actors (and the placement group), when the cluster answers."""
        if not gcs_answers(self.jobs.gcs):
            return
        with contextlib.suppress(Exception):
            ray.get([actor.remove.remote() for actor in self._actors], timeout=30)
        for actor in self._actors:
            with contextlib.suppress(Exception):
                ray.kill(actor)
        if self._group is not None:
            from ray.util.placement_group import remove_placement_group

            with contextlib.suppress(Exception):
                remove_placement_group(self._group)

    def _follow(self, index: int, process: RemoteProcess, tap: LogTap) -> None:
        ray, actor, node = self.jobs._ray, self._actors[index], self._nodes[index]
        token: str | None = None
        while not self._done.is_set():
            ref = actor.follow.remote(token, FOLLOW_WAIT_SECONDS)
            try:
                while not ray.wait([ref], timeout=FOLLOW_WAIT_SECONDS + 5.0)[0]:
                    if self._done.is_set():
                        return
                progress: Progress = ray.get(ref)
            except Exception as exc:
                if not self._done.is_set():
                    tap.note(f"the job's Ray actor on node {node} is gone ({type(exc).__name__}); "
                             "the node was lost or the actor died")
                    log.warning("job %s (%s) on Ray node %s lost: %s", self.job.name, self.hosts[index], node, exc)
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
