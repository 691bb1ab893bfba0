"""Who a sandboxed process is: an unprivileged uid with no capabilities, whoever runs the server.

Two cases, because a user namespace does not help a root server: bwrap maps the sandbox's uid to the
caller's, so under a root server a namespaced process would still be host uid 0 for every file check
(it could read root's 0600 files, the database included).

- **server runs as root**: bwrap sets up the mounts and namespaces as root, then ``setpriv`` (util-linux)
  switches to a host uid of its own, leased for the container's directory (``uid_leases``: no two
  live containers of different directories share one, so RLIMIT_NPROC counts per container), clears
  supplementary groups, empties the bounding, inheritable and ambient capability sets and sets
  no-new-privileges before exec. The bwrap monitor that stays
  pid 1 in the sandbox is root and so neither traceable nor killable from inside.
- **server runs as a normal user**: bwrap's own user namespace (``--unshare-user``), the server's uid,
  ``--cap-drop ALL`` and ``--disable-userns`` (no nested namespace to regain capabilities in);
  bwrap always sets no-new-privileges. uid 0 does not exist in that namespace, and bwrap's reaper
  (pid 1) is the same uid without capabilities. Since Linux 5.14 the kernel counts RLIMIT_NPROC per
  user namespace, so a container's own namespace makes that limit its own too
  (``counts_processes_alone``); before, it would count every process of the server's uid.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass

from modelyard.runtime.uid_leases import LEASES

SETPRIV = "/usr/bin/setpriv"


@dataclass(frozen=True)
class Identity:
    """The uid and gid a container runs as on the host, and whether a root server switches to them."""

    uid: int
    gid: int
    switch: bool

    @property
    def counts_processes_alone(self) -> bool:
        """Whether RLIMIT_NPROC counts only this container's processes: a uid of its own (root server) or
        a user namespace of its own on a kernel that counts per namespace."""
        return self.switch or nproc_per_user_namespace()

    def bwrap_options(self) -> list[str]:
        """bwrap options for this identity (before ``--``)."""
        if self.switch:
            return []
        return ["--unshare-user", "--disable-userns", "--uid", str(self.uid), "--gid", str(self.gid),
                "--cap-drop", "ALL"]

    def exec_prefix(self) -> list[str]:
        """The command that drops to this identity right before the program (empty for a normal user)."""
        if not self.switch:
            return []
        return [SETPRIV, f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "--no-new-privs",
                "--inh-caps=-all", "--bounding-set=-all", "--"]


def identity_for(key: str) -> Identity:
    """The identity of the container keyed by ``key`` (its /opt/ml directory); under a root server its
    uid is leased (``uid_leases.LEASES``) until ``release_identity(key)``."""
    if os.geteuid() != 0:
        return Identity(os.getuid(), os.getgid(), switch=False)
    uid = LEASES.acquire(key)
    return Identity(uid, uid, switch=True)


def release_identity(key: str) -> None:
    """The container keyed by ``key`` has ended: give back its leased uid (nothing for a normal user)."""
    if os.geteuid() == 0:
        LEASES.release(key)


@functools.lru_cache(maxsize=1)
def nproc_per_user_namespace() -> bool:
    """Whether this kernel (5.14 and later: ``ucounts``) counts RLIMIT_NPROC per user namespace."""
    found = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return found is not None and (int(found.group(1)), int(found.group(2))) >= (5, 14)
