"""A node's files outlive an actor killed without its stop (its server died): the next actor on the node
removes what the dead actor's lease names, and leaves a live actor's alone. Real processes hold the leases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from modelyard.controllers.ray.leases import Lease, sweep

HOLDER = """
import sys, time
from pathlib import Path
from modelyard.controllers.ray.leases import Lease
node = Path(sys.argv[1])
lease = Lease(node, sys.argv[2])
for name in sys.argv[3:]:
    (node / name).mkdir(parents=True)
    lease.holds(node / name)
print("held", flush=True)
time.sleep(600)
"""


def hold(node: Path, name: str, *dirs: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(node), name, *dirs], stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline() == b"held\n"
    return process


def test_a_dead_actors_files_are_swept_and_a_live_ones_kept(tmp_path: Path) -> None:
    dead = hold(tmp_path, "i-dead", "artifacts/i-dead", "instances/r/e/i-dead")
    live = hold(tmp_path, "i-live", "artifacts/i-live")
    try:
        os.kill(dead.pid, signal.SIGKILL)
        dead.wait()
        assert sweep(tmp_path) == 1
        assert not (tmp_path / "artifacts" / "i-dead").exists()
        assert not (tmp_path / "instances" / "r" / "e" / "i-dead").exists()
        assert not (tmp_path / "leases" / "i-dead.lease").exists()
        assert (tmp_path / "artifacts" / "i-live").is_dir()
        assert (tmp_path / "leases" / "i-live.lease").exists()
    finally:
        live.kill()
        live.wait()


def test_a_released_lease_removes_its_files_and_nothing_outside_the_node_dir(tmp_path: Path) -> None:
    node, outside = tmp_path / "node", tmp_path / "outside"
    outside.mkdir()
    lease = Lease(node, "job-1")
    (node / "jobs" / "job-1").mkdir(parents=True)
    lease.holds(node / "jobs" / "job-1")
    with pytest.raises(ValueError, match="not under the node dir"):
        lease.holds(outside)
    (node / "leases" / "forged.lease").write_text(f"{outside}\n")
    lease.release()
    assert not (node / "jobs" / "job-1").exists() and not lease.path.exists()
    assert sweep(node) == 1
    assert outside.is_dir()
