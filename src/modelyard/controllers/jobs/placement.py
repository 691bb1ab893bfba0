"""Where a job's hosts run: the seam between the job runners and the machines.

``host_group`` gives the runner ``hosts.HostGroup`` (containers on this machine), or, on a server
joined to a Ray cluster, the cluster's ``RemoteJobs`` for a single-host job of a framework image
(``controllers.ray.jobs``). Jobs with several hosts always run here (their hosts share a job network
of this machine), as do jobs of bring-your-own images (their directories are on this machine).
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
    """Runs single-host jobs on other machines."""

    def hosts(self, job: JobRun, what: str, launch: JobLaunch) -> JobHosts:
        """The one host of ``job`` on another machine."""


def host_group(tools: JobTools, job: JobRun, hosts: Sequence[str], what: str, launch: JobLaunch) -> JobHosts:
    """Where ``job``'s ``hosts`` run: elsewhere when ``tools.remote`` is set, there is one host and the image
    is a framework image (a bring-your-own image's directory is on this machine), else here."""
    if tools.remote is not None and len(hosts) == 1 and launch.image.kind == "toolkit":
        return tools.remote.hosts(job, what, launch)
    return HostGroup(tools, job, hosts, what)
