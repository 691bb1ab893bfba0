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
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

RESOLV_CONF = "nameserver 10.0.2.3\noptions attempts:2 timeout:2\n"
READY_TIMEOUT = 10.0


class UserNetworkError(Exception):
    """slirp4netns could not bring the container's network up."""


def find_slirp4netns() -> str | None:
    """The slirp4netns executable, or None."""
    return shutil.which("slirp4netns") or (
        "/usr/bin/slirp4netns" if os.access("/usr/bin/slirp4netns", os.X_OK) else None)


def wait_for_loopback(pid: int, timeout: float = READY_TIMEOUT) -> None:
    """Wait until 127.0.0.1 is a local address in the network namespace of ``pid`` (bwrap has set up
    ``lo``); returns early if the process is gone or the kernel does not show its routes."""
    trie = Path(f"/proc/{pid}/net/fib_trie")
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while time.monotonic() < deadline:
        try:
            if "127.0.0.1" in trie.read_text():
                return
        except OSError:
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.01)


def slirp_argv(slirp: str, pid: int, ready_fd: int, exit_fd: int) -> list[str]:
    """slirp4netns's command line for the network namespace of ``pid``."""
    argv = [slirp, "--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox",
            "--enable-seccomp", f"--ready-fd={ready_fd}", f"--exit-fd={exit_fd}"]
    if os.geteuid() != 0:
        argv.append(f"--userns-path=/proc/{pid}/ns/user")
    return [*argv, str(pid), "tap0"]


def start_user_network(
    slirp: str, pid: int, exit_fd: int, spawn: Callable[[list[str], tuple[int, ...]], subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    """Start slirp4netns for ``pid``'s namespace and wait until it is configured. ``exit_fd`` is the
    read end of a pipe whose write end only the container holds: slirp4netns ends with it."""
    wait_for_loopback(pid)
    ready_read, ready_write = os.pipe()
    try:
        process = spawn(slirp_argv(slirp, pid, ready_write, exit_fd), (ready_write, exit_fd))
    finally:
        os.close(ready_write)
    try:
        ready, _, _ = select.select([ready_read], [], [], READY_TIMEOUT)
        if not ready or os.read(ready_read, 1) != b"1":
            process.kill()
            process.wait()
            raise UserNetworkError(f"slirp4netns did not configure the network (exit {process.poll()})")
    finally:
        os.close(ready_read)
    threading.Thread(target=process.wait, name=f"slirp4netns-{pid}", daemon=True).start()
    return process
