"""Where a job's hosts run: the seam between the job runners and the machines.

``host_group`` gives the runner ``hosts.HostGroup`` (containers on this machine), or, on a server
joined to a Ray cluster, the cluster's ``RemoteJobs`` for a job of a framework image, with any number
of hosts (``controllers.ray.jobs``: their job network spans the nodes they land on). Jobs of
bring-your-own images run here (their directories are on this machine).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from modelyard.controllers.jobs.controller import JobRun
from modelyard.controllers.jobs.hosts import HostGroup, HostsEnd
from modelyard.controllers.jobs.tools import JobTools, LogTap
from modelyard.controllers.launcher import InstanceProcess
from modelyard.runtime.environments import Environment
from modelyard.runtime.images import ImageSpec
from modelyard.runtime.process import ContainerSpec


@dataclass(frozen=True)
class JobLaunch:
    """What a job's containers need besides their specs, to be started on another machine."""

    image: ImageSpec
    requirements: str | None
    environment: Environment
    """The environment the specs name (built here; rebuilt on the other machine)."""
    instance_type: str | None
    inputs: tuple[str, ...]
    """Paths under /opt/ml (relative) holding the staged inputs: not sent back after the run."""
    toolkit: str | None = None
    """The toolkit's PYTHONPATH entry the specs name, when the container imports the toolkit."""


class JobHosts(Protocol):
    """A job's running hosts."""

    @property
    def processes(self) -> Sequence[InstanceProcess]:
        """Each host's container, in host order (once started)."""

    def run(self, specs: Sequence[ContainerSpec], taps: Sequence[LogTap]) -> HostsEnd:
        """Start the hosts, wait for their end, and leave nothing running; the job's /opt/ml directories
        hold what the containers wrote."""


class RemoteJobs(Protocol):
    """Runs jobs on other machines."""

    def hosts(self, job: JobRun, what: str, launch: JobLaunch, hosts: Sequence[str]) -> JobHosts:
        """The ``hosts`` of ``job`` on other machines."""


def host_group(tools: JobTools, job: JobRun, hosts: Sequence[str], what: str, launch: JobLaunch) -> JobHosts:
    """Where ``job``'s ``hosts`` run: elsewhere when ``tools.remote`` is set and the image is a framework
    image (a bring-your-own image's directory is on this machine), else here."""
    if tools.remote is not None and launch.image.kind == "toolkit":
        return tools.remote.hosts(job, what, launch, hosts)
    return HostGroup(tools, job, hosts, what)
