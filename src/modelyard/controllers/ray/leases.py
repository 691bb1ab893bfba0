"""Files on a node that outlive their actor: each actor holds a lease (an ``flock``'d file naming the
directories it made) for as long as its process lives; the next actor on the node removes what dead
actors' leases name, when it starts and when it stops (a killed server takes its actors with it, and
they never clean up themselves).

    <node dir>/leases/<id>.lease   one path per line; locked while the actor's process runs
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from pathlib import Path


class Lease:
    """The live lease of one actor."""

    def __init__(self, node_dir: Path, name: str) -> None:
        self.node_dir = node_dir
        directory = node_dir / "leases"
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{name}.lease"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def holds(self, path: Path) -> Path:
        """Name ``path`` (under the node dir) as the actor's (removed once the actor is gone); returns it."""
        if not path.is_relative_to(self.node_dir):
            raise ValueError(f"{path} is not under the node dir {self.node_dir}")
        os.write(self._fd, f"{path}\n".encode())
        return path

    def release(self) -> None:
        """Remove what the lease names and the lease itself (the actor ends cleanly)."""
        _remove_named(self.node_dir, self.path)
        os.close(self._fd)


def claim_node_dir(node_root: str, name: str) -> tuple[str, Path, Lease]:
    """In an actor: this node's id, its directory under ``node_root`` (dead actors' files swept) and a
    fresh lease named ``name`` there."""
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    node_dir = Path(node_root) / node_id[:16]
    sweep(node_dir)
    return node_id, node_dir, Lease(node_dir, name)


def sweep(node_dir: Path) -> int:
    """Remove what the leases of dead actors name; how many leases were swept."""
    swept = 0
    for lease in sorted((node_dir / "leases").glob("*.lease")):
        try:
            fd = os.open(lease, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _remove_named(node_dir, lease)
        os.close(fd)
        swept += 1
    return swept


def _remove_named(node_dir: Path, lease: Path) -> None:
    with contextlib.suppress(OSError):
        for line in lease.read_text().splitlines():
            path = Path(line.strip())
            if line.strip() and path.is_relative_to(node_dir):
                shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(OSError):
        lease.unlink()
