"""Outbound network for a sandbox without the host's loopback: slirp4netns in front of a private netns.

Why slirp4netns (Debian's ``slirp4netns``) rather than pasta: bookworm's passt is a 2023 snapshot, and
slirp4netns 1.2 has exactly the switches needed — ``--disable-host-loopback`` (the gateway 10.0.2.2 no
longer leads to the host's 127.0.0.1, so the modelyard server, PostgreSQL and other models' ports are
out of reach), ``--ready-fd`` (the program starts only once the network is up), ``--exit-fd`` (it
ends with the container), and ``--enable-sandbox``/``--enable-seccomp`` to confine itself. It runs
in user space, so the host's routing table and interfaces are never touched.

Inside::

    lo          the container's own loopback only
    tap0        10.0.2.100/24, default route via 10.0.2.2 (user-mode NAT to the outside)
    DNS         10.0.2.3 (slirp's forwarder; /etc/resolv.conf says so)

A bring-your-own image's HTTP port is reached through a unix-socket bridge in the container
(``toolkit/tcp_bridge.py``), not by a port forward.

slirp4netns starts only once bwrap has set up the namespace's loopback (``wait_for_loopback``):
bwrap reports the sandbox's pid before its child configures ``lo``, and slirp4netns brings ``lo``
up too — which makes the kernel add 127.0.0.1 first, and bwrap's own RTM_NEWADDR then fails
("loopback: Failed RTM_NEWADDR"), ending the container before it starts.

A normal-user server's slirp4netns runs in the user namespace that owns the sandbox's network
namespace (``NS_GET_USERNS``), entered before exec and named again by ``--userns-path``. That is
not the sandbox process's own: unprivileged bwrap nests a second user namespace (the one
``--disable-userns`` seals), where slirp4netns could neither join the network namespace nor, with
``--enable-sandbox``, become uid 0 (it would ``setegid(0)`` in the sandbox's namespace, which maps
only the server's uid). In the owning namespace bwrap maps the server's uid to 0, so slirp4netns
confines itself there as it does under a root server. It opens ``/dev/net/tun`` as the server's
user, which distributions make 0666; where the host keeps it 0600, a normal user's containers get
no network (``tun_usable``), as when slirp4netns is missing.
"""

from __future__ import annotations

import fcntl
import logging
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

logger = logging.getLogger("modelyard.runtime")

RESOLV_CONF = "nameserver 10.0.2.3\noptions attempts:2 timeout:2\n"
READY_TIMEOUT = 10.0
TUN = "/dev/net/tun"
_NS_GET_USERNS = 0xB701


class UserNetworkError(Exception):
    """slirp4netns could not bring the container's network up; ``timed_out`` when it never answered."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


def find_slirp4netns() -> str | None:
    """The slirp4netns executable, or None."""
    return shutil.which("slirp4netns") or (
        "/usr/bin/slirp4netns" if os.access("/usr/bin/slirp4netns", os.X_OK) else None)


def tun_usable() -> bool:
    """Whether this process may open the TUN device slirp4netns needs (root always may)."""
    try:
        os.close(os.open(TUN, os.O_RDWR))
    except OSError:
        return False
    return True


def network_owner_fd(pid: int) -> int:
    """A descriptor of the user namespace owning ``pid``'s network namespace (close it after use);
    raises OSError."""
    net = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        return fcntl.ioctl(net, _NS_GET_USERNS)
    finally:
        os.close(net)


def wait_for_loopback(pid: int, timeout: float = READY_TIMEOUT) -> None:
    """Wait until 127.0.0.1 is a local address in the network namespace of ``pid`` (bwrap has set up
    ``lo``); returns early if the process is gone or the kernel does not show its routes. A routes file
    that cannot be read yet (the process is between namespaces and not dumpable) is waited for."""
    trie = Path(f"/proc/{pid}/net/fib_trie")
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while time.monotonic() < deadline:
        try:
            if "127.0.0.1" in trie.read_text():
                return
        except PermissionError:
            pass
        except OSError:
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.01)


def slirp_argv(slirp: str, pid: int, ready_fd: int, exit_fd: int, userns_fd: int | None = None) -> list[str]:
    """slirp4netns's command line for the network namespace of ``pid``; ``userns_fd``: the user namespace
    to join first (a normal-user server's, see ``network_owner_fd``), inherited by slirp4netns."""
    argv = [slirp, "--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox",
            "--enable-seccomp", f"--ready-fd={ready_fd}", f"--exit-fd={exit_fd}"]
    if userns_fd is not None:
        argv.append(f"--userns-path=/proc/self/fd/{userns_fd}")
    return [*argv, str(pid), "tap0"]


Spawn = Callable[[list[str], tuple[int, ...], IO[bytes] | None, int | None], subprocess.Popen[bytes]]
"""Starts a helper: argv, the descriptors it inherits, where its output goes, a user namespace to enter."""


def start_user_network(slirp: str, pid: int, exit_fd: int, spawn: Spawn) -> subprocess.Popen[bytes]:
    """Start slirp4netns for ``pid``'s namespace and wait until it is configured. ``exit_fd`` is the
    read end of a pipe whose write end only the container holds: slirp4netns ends with it. A slirp4netns
    that fails at once while the sandbox still waits is started once more (on a busy host it can join the
    namespace before the sandbox has finished setting it up). When it fails, the error ends with its
    last words."""
    wait_for_loopback(pid)
    try:
        return _start_slirp(slirp, pid, exit_fd, spawn)
    except UserNetworkError as first:
        if first.timed_out or not Path(f"/proc/{pid}").exists():
            raise
        logger.warning("slirp4netns for sandbox %d failed (%s); starting it once more", pid, first)
        time.sleep(0.05)
        return _start_slirp(slirp, pid, exit_fd, spawn)


def _start_slirp(slirp: str, pid: int, exit_fd: int, spawn: Spawn) -> subprocess.Popen[bytes]:
    userns = network_owner_fd(pid) if os.geteuid() != 0 else None
    ready_read, ready_write = os.pipe()
    with tempfile.TemporaryFile() as output:
        try:
            inherited = (ready_write, exit_fd, *([] if userns is None else [userns]))
            process = spawn(slirp_argv(slirp, pid, ready_write, exit_fd, userns), inherited, output, userns)
        finally:
            os.close(ready_write)
            if userns is not None:
                os.close(userns)
        try:
            ready, _, _ = select.select([ready_read], [], [], READY_TIMEOUT)
            if not ready or os.read(ready_read, 1) != b"1":
                process.kill()
                process.wait()
                raise UserNetworkError(f"slirp4netns did not configure the network (exit {process.poll()})"
                                       f"{_last_words(output)}", timed_out=not ready)
        finally:
            os.close(ready_read)
    threading.Thread(target=process.wait, name=f"slirp4netns-{pid}", daemon=True).start()
    return process


def _last_words(output: IO[bytes]) -> str:
    output.seek(0)
    lines = [line for line in output.read()[-4096:].decode(errors="replace").splitlines()
             if line.strip() and not line.startswith(("WARNING: Support for seccomp", "*"))]
    return f": {lines[-1].strip()}" if lines else ""
