"""A private network for the hosts of one multi-instance job: algo-1 … algo-N reach each other on any
port, and nothing else is added to what each host's sandbox already allows.

::

    switch namespace (a holder process: ``unshare --net sleep``, dies with the server)
        br0 ── jK ══ veth ══ eth0 10.0.1.(K+1)/24   in algo-K's own sandbox network namespace
    each sandbox:  /etc/hosts  algo-1 … algo-N by address, hostname algo-K (its own UTS namespace)

Each host keeps a network namespace of its own (two hosts may both listen on 0.0.0.0:29500, as on
separate machines), so the job's subnet is a layer-2 segment of its own: another job's hosts sit
on another bridge in another namespace and are unreachable even at the same addresses; the host's
interfaces and its loopback (the modelyard server) are never on it. Outbound traffic is whatever
the sandbox already has: slirp4netns's NAT for a normal job, nothing under EnableNetworkIsolation.

The veths are created and addressed by root (``ip`` from iproute2, entering namespaces with
``nsenter``) while bwrap holds the sandbox's program (``ContainerSpec.attach_network``), so the
program starts with its network complete. ``probe`` then checks, before any program runs, that
every host reaches algo-1 over TCP: hosts that cannot reach each other fail the job at once, naming
the host and why.

On a Ray cluster each host's node holds a ``JobNetwork`` of its own with that one host attached, and
``add_tap`` puts a TAP device on its bridge, which ``controllers.ray.job_tunnel`` relays to the other
hosts' switches (``probe_listener`` and ``reach`` are the two halves of the probe, run on different
nodes there).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

SUBNET = "10.0.1"
PREFIX = 24
INTERFACE = "eth0"
BRIDGE = "br0"
MAX_HOSTS = 250
PROBE_TIMEOUT = 5.0
_CLONE_NEWNET = 0x40000000
_COMMAND_TIMEOUT = 20.0
TAP = "tap0"
TUN_DEVICE = "/dev/net/tun"
_TUNSETIFF = 0x400454CA
_IFF_TAP = 0x0002
_IFF_NO_PI = 0x1000
T = TypeVar("T")


class JobNetworkError(Exception):
    """The job's network could not be made or a host cannot reach the others; the message names the host."""


def host_address(index: int) -> str:
    """The address of the host ``algo-<index+1>`` (``index`` from 0)."""
    if not 0 <= index < MAX_HOSTS:
        raise ValueError(f"a job network holds at most {MAX_HOSTS} hosts")
    return f"{SUBNET}.{index + 2}"


def hosts_file(hosts: Sequence[str], addresses: Sequence[str] | None = None) -> str:
    """The /etc/hosts of every host of the job: localhost, then each host by its address."""
    addresses = list(addresses) if addresses is not None else [host_address(i) for i in range(len(hosts))]
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{address}\t{host}" for address, host in zip(addresses, hosts, strict=True)]
    return "\n".join(lines) + "\n"


def network_problem() -> str | None:
    """Why job networks cannot be made here (not root, no ``ip``/``nsenter``/``unshare``), or None."""
    if os.geteuid() != 0:
        return "multi-instance jobs need a modelyard server running as root (it creates each job's network)"
    missing = [tool for tool in ("ip", "nsenter", "unshare") if _tool(tool) is None]
    if missing:
        return f"multi-instance jobs need {', '.join(missing)} (apt install iproute2 util-linux)"
    return None


def _tool(name: str) -> str | None:
    return shutil.which(name) or next((f"{d}/{name}" for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
                                       if os.access(f"{d}/{name}", os.X_OK)), None)


class JobNetwork:
    """The network of one job: ``open`` makes its switch, ``attach`` wires one host's sandbox, ``close``
    removes everything (the veths go with the namespaces)."""

    def __init__(self, job: str, hosts: Sequence[str], mtu: int | None = None) -> None:
        if len(hosts) > MAX_HOSTS:
            raise JobNetworkError(f"{job}: a job network holds at most {MAX_HOSTS} hosts, not {len(hosts)}")
        self.job = job
        self.hosts = list(hosts)
        self.addresses = [host_address(i) for i in range(len(hosts))]
        self.mtu = mtu
        """The MTU of every interface of the network (None: the kernel's 1500)."""
        self._switch: subprocess.Popen[bytes] | None = None
        self._pids: dict[str, int] = {}
        self._lock = threading.Lock()

    def hosts_file(self) -> str:
        """The /etc/hosts every host of the job gets."""
        return hosts_file(self.hosts, self.addresses)

    def open(self) -> None:
        """Start the switch namespace and its bridge."""
        from modelyard.runtime.process import spawn_helper

        problem = network_problem()
        if problem:
            raise JobNetworkError(problem)
        unshare = _tool("unshare")
        assert unshare is not None
        self._switch = spawn_helper([unshare, "--net", "--", "sleep", "infinity"])
        self._wait_for_namespace(self._switch.pid)
        self._in(self._switch.pid, "the job's switch", [["link", "add", BRIDGE, "type", "bridge"],
                                                        ["link", "set", BRIDGE, "up"]])

    def attach(self, host: str, pid: int) -> None:
        """Give the sandbox whose namespaces belong to ``pid`` the interface of ``host`` on the job's switch."""
        if self._switch is None:
            raise JobNetworkError(f"{host}: the job network is not open")
        if host not in self.hosts:
            raise JobNetworkError(f"{host} is not a host of {self.job} ({', '.join(self.hosts)})")
        index = self.hosts.index(host)
        peer = f"j{index + 1}"
        ip = _tool("ip")
        assert ip is not None
        _run([ip, "link", "add", INTERFACE, "netns", str(pid), "type", "veth", "peer", "name", peer,
              "netns", str(self._switch.pid)], f"{host}: could not create its network interface")
        self._in(self._switch.pid, host, [*self._mtu_of(peer), ["link", "set", peer, "master", BRIDGE],
                                          ["link", "set", peer, "up"]])
        self._in(pid, host, [*self._mtu_of(INTERFACE),
                             ["addr", "add", f"{self.addresses[index]}/{PREFIX}", "dev", INTERFACE],
                             ["link", "set", INTERFACE, "up"]])
        with self._lock:
            self._pids[host] = pid

    def probe(self, timeout: float = PROBE_TIMEOUT) -> None:
        """Check that every attached host reaches algo-1 over TCP; JobNetworkError names the first that
        cannot, and why."""
        with self._lock:
            pids = dict(self._pids)
        first = self.hosts[0]
        if first not in pids or len(pids) < 2:
            return
        listener = self.probe_listener(first)
        try:
            port = listener.getsockname()[1]
            listener.settimeout(timeout)
            for host in pids:
                if host == first:
                    continue
                self.reach(host, self.addresses[0], port, timeout)
                listener.accept()[0].close()
        finally:
            listener.close()

    def probe_listener(self, host: str) -> socket.socket:
        """A TCP listener on an ephemeral port of ``host``'s address, in its sandbox's network."""
        return _in_namespace(self._pid(host), lambda: _listen(self.addresses[self.hosts.index(host)]))

    def reach(self, host: str, address: str, port: int, timeout: float = PROBE_TIMEOUT) -> None:
        """Connect from ``host``'s sandbox network to ``address:port`` (algo-1's probe listener);
        JobNetworkError naming ``host`` and why when it cannot."""
        target = self.hosts[self.addresses.index(address)] if address in self.addresses else address
        try:
            _in_namespace(self._pid(host), lambda: socket.create_connection((address, port), timeout)).close()
        except OSError as exc:
            raise JobNetworkError(f"{host} cannot reach {target} ({address}) over TCP: "
                                  f"{exc.strerror or exc}") from None

    def add_tap(self) -> int:
        """A TAP device on the job's bridge (for a tunnel to the job's hosts elsewhere): its descriptor."""
        if self._switch is None:
            raise JobNetworkError("the job network is not open")
        fd = _in_namespace(self._switch.pid, lambda: open_tap(TAP))
        try:
            self._in(self._switch.pid, "the job's switch", [*self._mtu_of(TAP), ["link", "set", TAP, "master", BRIDGE],
                                                            ["link", "set", TAP, "up"]])
        except JobNetworkError:
            os.close(fd)
            raise
        return fd

    def _mtu_of(self, interface: str) -> list[list[str]]:
        return [["link", "set", "dev", interface, "mtu", str(self.mtu)]] if self.mtu else []

    def _pid(self, host: str) -> int:
        with self._lock:
            pid = self._pids.get(host)
        if pid is None:
            raise JobNetworkError(f"{host} is not attached to the job network")
        return pid

    def close(self) -> None:
        """End the switch namespace (its bridge and the veths' peers go with it)."""
        switch, self._switch = self._switch, None
        if switch is not None and switch.poll() is None:
            switch.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                switch.wait(5)

    def _in(self, pid: int, who: str, commands: list[list[str]]) -> None:
        nsenter, ip = _tool("nsenter"), _tool("ip")
        assert nsenter is not None and ip is not None
        for command in commands:
            _run([nsenter, f"--net=/proc/{pid}/ns/net", "--", ip, *command],
                 f"{who}: could not configure its network ({' '.join(command)})")

    @staticmethod
    def _wait_for_namespace(pid: int) -> None:
        mine = os.readlink("/proc/self/ns/net")
        for _ in range(200):
            try:
                if os.readlink(f"/proc/{pid}/ns/net") != mine:
                    return
            except OSError:
                break
            threading.Event().wait(0.005)
        raise JobNetworkError("the job's switch namespace did not start")


def open_tap(name: str) -> int:
    """A non-blocking descriptor of a new TAP device ``name`` (frames without a packet header) in the
    calling thread's network namespace."""
    fd = os.open(TUN_DEVICE, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TAP | _IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


def _run(argv: list[str], what: str) -> None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=_COMMAND_TIMEOUT,
                                stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise JobNetworkError(f"{what}: {exc}") from None
    if result.returncode != 0:
        raise JobNetworkError(f"{what}: {result.stderr.strip() or f'exit status {result.returncode}'}")


def _listen(address: str) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((address, 0))
    listener.listen(MAX_HOSTS)
    return listener


def _in_namespace(pid: int, action: Callable[[], T]) -> T:
    """Run ``action`` (making a socket or a TAP device) on a thread of its own that first enters ``pid``'s
    network namespace: a socket or device keeps the namespace it was made in, and the thread ends right
    after."""
    result: list[T] = []
    errors: list[BaseException] = []

    def enter_and_act() -> None:
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                if ctypes.CDLL(None, use_errno=True).setns(fd, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            finally:
                os.close(fd)
            result.append(action())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=enter_and_act, name=f"netns-{pid}", daemon=True)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]
