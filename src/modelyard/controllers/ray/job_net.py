"""One host's share of a multi-host job's network on its Ray node: a job switch of its own
(``runtime.job_network``) holding this host's sandbox, and a TAP on that switch relayed to the other
hosts' shares by the frame forwarder (``job_tunnel``), so algo-1 … algo-N form one layer-2 segment
across nodes.

    open()      switch namespace + bridge, TAP on the bridge, forwarder listening on the node's address
    join(peers) forwarders connected to each other (mutual HMAC handshake under the job's secret)
    prepare()   the host's container spec: hostname, /etc/hosts, eth0 on the switch, held until released
    probe_*     algo-1 listens in its sandbox's network, every other host connects to it over the tunnel
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass

from modelyard.controllers.ray.job_tunnel import TUNNEL_MTU, JobTunnel
from modelyard.runtime.job_network import PROBE_TIMEOUT, JobNetwork
from modelyard.runtime.process import ContainerSpec


@dataclass(frozen=True)
class NetPlan:
    """What one host's share needs: the job, its hosts, which one this is, and the job's tunnel secret."""

    job: str
    hosts: list[str]
    index: int
    secret: bytes

    @property
    def host(self) -> str:
        """This share's host name."""
        return self.hosts[self.index]


class NodeShare:
    """One host's part of its job's network, on the node the host runs on."""

    def __init__(self, plan: NetPlan) -> None:
        self.plan = plan
        self.network = JobNetwork(plan.job, plan.hosts, TUNNEL_MTU)
        self.tunnel: JobTunnel | None = None
        self._listener: socket.socket | None = None

    def open(self, address: str) -> int:
        """Make the switch and its TAP, and start the forwarder on ``address`` (the node's); its port."""
        self.network.open()
        try:
            self.tunnel = JobTunnel(self.plan.secret, self.plan.index, len(self.plan.hosts), self.network.add_tap())
            return self.tunnel.listen(address)
        except BaseException:
            self.close()
            raise

    def join(self, peers: Mapping[int, tuple[str, int]]) -> None:
        """Connect the forwarder to the other hosts' (TunnelError naming those it cannot reach)."""
        assert self.tunnel is not None
        self.tunnel.join(peers)

    def prepare(self, spec: ContainerSpec) -> None:
        """Put the host's container on the job's network: it starts held, with eth0 wired."""
        network, host = self.network, self.plan.host
        spec.hostname = host
        spec.hosts_file = network.hosts_file()
        spec.attach_network = lambda pid: network.attach(host, pid)
        spec.held = True

    def probe_open(self) -> int:
        """Listen in this host's sandbox network on an ephemeral port (the port)."""
        self._listener = self.network.probe_listener(self.plan.host)
        return int(self._listener.getsockname()[1])

    def probe_reach(self, address: str, port: int, timeout: float = PROBE_TIMEOUT) -> None:
        """Connect from this host's sandbox network to ``address:port`` (JobNetworkError when it cannot)."""
        self.network.reach(self.plan.host, address, port, timeout)

    def probe_close(self) -> None:
        """Stop listening."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def close(self) -> None:
        """End the forwarder and the switch."""
        self.probe_close()
        if self.tunnel is not None:
            self.tunnel.close()
            self.tunnel = None
        self.network.close()
