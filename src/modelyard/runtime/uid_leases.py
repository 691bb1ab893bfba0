"""Host uids for sandboxes of a root server, leased so that no two live containers ever share one.

A uid is the only thing that keeps one container's processes and files from another's, so two
containers may share it only when they are the same trust domain (the same key: the same /opt/ml
directory, e.g. the environment builder's concurrent builds). Each key starts at a slot derived from
its hash (so a restarted container usually gets its old uid back) and probes onward past slots held
by another key:

    in this process    a table key -> (uid, holders); a uid held by another key is skipped
    across processes   an exclusive ``flock`` on ``<lease dir>/<uid>``, held while the key has holders
                       (two servers on one host never hand out the same uid; a crashed server's locks
                       go with it, as do its containers, which die with their parent)

The lease directory is root's own (0700); one that another user could write is refused.
"""

from __future__ import annotations

import fcntl
import os
import stat
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

SANDBOX_UID_BASE = 200_000
SANDBOX_UID_SPAN = 60_000
LEASE_DIRECTORY = Path("/run/modelyard/uid-leases")


class UidLeaseError(Exception):
    """No uid could be leased (the lease directory is unsafe, or every uid is in use)."""


@dataclass
class _Lease:
    uid: int
    fd: int
    holders: int


class UidLeases:
    """Leases of host uids in ``[base, base + span)``, keyed by container identity."""

    def __init__(self, directory: Path = LEASE_DIRECTORY, base: int = SANDBOX_UID_BASE,
                 span: int = SANDBOX_UID_SPAN) -> None:
        self.directory = directory
        self.base = base
        self.span = span
        self._leases: dict[str, _Lease] = {}
        self._held: set[int] = set()
        self._lock = threading.Lock()
        self._ready = False

    def acquire(self, key: str) -> int:
        """The uid of ``key``, leased until as many ``release(key)`` calls as ``acquire`` calls."""
        with self._lock:
            lease = self._leases.get(key)
            if lease is not None:
                lease.holders += 1
                return lease.uid
            self._prepare_directory()
            start = zlib.crc32(key.encode()) % self.span
            for step in range(self.span):
                uid = self.base + (start + step) % self.span
                if uid in self._held:
                    continue
                fd = self._try_lock(uid)
                if fd is not None:
                    self._leases[key] = _Lease(uid, fd, 1)
                    self._held.add(uid)
                    return uid
        raise UidLeaseError(f"all {self.span} sandbox uids from {self.base} are in use")

    def release(self, key: str) -> None:
        """Give back one hold of ``key``'s uid; the last one frees it for other keys."""
        with self._lock:
            lease = self._leases.get(key)
            if lease is None:
                return
            lease.holders -= 1
            if lease.holders > 0:
                return
            del self._leases[key]
            self._held.discard(lease.uid)
            os.close(lease.fd)

    def _try_lock(self, uid: int) -> int | None:
        fd = os.open(self.directory / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _prepare_directory(self) -> None:
        if self._ready:
            return
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = self.directory.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            raise UidLeaseError(f"{self.directory} must be a directory of uid {os.geteuid()} that no one else "
                                "can write (mode 0700)")
        self._ready = True


LEASES = UidLeases()
"""The server's leases (one table per process; the lock files make them exclusive across processes)."""
