"""Limits that hold for a whole container, however many processes it forks: its cgroup (memory, pids,
CPU quota) and the watchdog's disk budget. Each test tries to get past a limit and must fail to."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modelyard.runtime import ProcessBackend
from modelyard.runtime.cgroups import ContainerGroup
from modelyard.runtime.containers import ContainerProcess
from modelyard.runtime.errors import SandboxUnavailableError
from modelyard.runtime.limits import MIB, Limits

from ..runtime.conftest import last_json, python_spec, run_to_end, wait_for_text

BUSY = r"""
import os, time
for _ in range(3):
    if os.fork() == 0:
        break
print("spinning", flush=True)
while True:
    pass
"""

TOGETHER = r"""
import os, time
for _ in range(3):
    if os.fork() == 0:
        block = b"x" * (200 * 1024 * 1024)
        time.sleep(60)
        os._exit(0)
time.sleep(60)
"""

FILL_DISK = r"""
import os
os.makedirs("/opt/ml/model", exist_ok=True)
with open("/opt/ml/model/big", "wb") as handle:
    for _ in range(2000):
        handle.write(os.urandom(1 << 20))
        handle.flush()
print("wrote everything")
"""

QUICK_FILL = r"""
import os
os.makedirs("/opt/ml/model", exist_ok=True)
with open("/opt/ml/model/quick", "wb") as handle:
    handle.write(os.urandom(80 << 20))
print("wrote quickly")
"""

MANY_FILES = r"""
import os, time
for n in range(5000):
    open(f"/opt/ml/f{n}", "w").close()
time.sleep(30)
print("made everything")
"""


QUOTA = 0.2


def _cgroup_backend(backend: ProcessBackend) -> ProcessBackend:
    if backend.cgroups is None:
        pytest.skip(f"no usable cgroups on this host ({backend.cgroups_note}); containers get rlimits")
    return backend


def _group(process: ContainerProcess) -> ContainerGroup:
    watch = process.watch
    group = getattr(watch, "group", None)
    assert isinstance(group, ContainerGroup), "a container under cgroups has a group"
    return group


def test_a_busy_container_gets_no_more_than_its_cpu_quota(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    backend = _cgroup_backend(sandboxed_backend)
    spec = python_spec(tmp_path, BUSY, limits=Limits(cpus=QUOTA))
    process = backend.start(spec)
    try:
        assert spec.stdout_path is not None
        wait_for_text(spec.stdout_path, "spinning", process)
        group = _group(process)
        if group.cpu_usage_ns() is None:
            pytest.skip("the host has no CPU accounting for groups (cpuacct)")
        time.sleep(0.5)
        start_usage, start = group.cpu_usage_ns() or 0, time.monotonic()
        time.sleep(3.0)
        used = ((group.cpu_usage_ns() or 0) - start_usage) / 1e9
        window = time.monotonic() - start
        throttled = group.throttled_periods()
    finally:
        process.kill()
    cores = used / window
    assert cores <= QUOTA * 1.25, f"4 busy processes used {cores:.2f} cores under a {QUOTA}-core quota"
    assert used > 0, "the container ran"
    if cores >= QUOTA * 0.75:
        assert throttled is None or throttled > 0, "at its quota, the container was held back by it"


def test_workers_that_together_pass_the_memory_limit_are_killed_as_one(
    sandboxed_backend: ProcessBackend, tmp_path: Path
) -> None:
    backend = _cgroup_backend(sandboxed_backend)
    notes: list[str] = []
    spec = python_spec(tmp_path, TOGETHER, limits=Limits(memory_bytes=400 * MIB), note=notes.append)
    process = backend.start(spec)
    code = process.wait(60)
    assert code is not None, "the container is killed well before its 60 s sleep ends"
    breach = process.limit_exceeded()
    assert breach is not None and breach.kind == "memory", breach
    assert "memory limit of 400 MiB" in breach.message
    assert any("killed for exceeding its memory limit" in note for note in notes), notes
    assert process.pids() == []


def test_a_fork_bomb_stops_at_the_group_pids_limit(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    backend = _cgroup_backend(sandboxed_backend)
    from .test_limits import FORK_BOMB

    spec = python_spec(tmp_path, FORK_BOMB, limits=Limits(processes=32))
    code, log = run_to_end(backend, spec)
    assert code == 0, log
    seen = last_json(log)
    assert seen["refused"] == "EAGAIN" and seen["forked"] < 32, seen


def test_writing_past_the_disk_budget_kills_the_container(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    notes: list[str] = []
    spec = python_spec(tmp_path, FILL_DISK, limits=Limits(disk_bytes=64 * MIB), note=notes.append)
    code, log = run_to_end(sandboxed_backend, spec, timeout=120)
    assert code != 0 and "wrote everything" not in log, log
    assert not (tmp_path / "opt_ml" / "model" / "big").exists() or \
        (tmp_path / "opt_ml" / "model" / "big").stat().st_size < 2000 * MIB
    process_breach = [note for note in notes if "disk limit" in note]
    assert process_breach and "64 MiB" in process_breach[0], notes


def test_a_writer_that_ends_before_the_first_walk_is_still_over_its_budget(
    sandboxed_backend: ProcessBackend, tmp_path: Path
) -> None:
    """On a quiet machine the writer ends before the watchdog's first walk; on a loaded one the walk may
    catch it first and kill it. Either way the breach is reported."""
    spec = python_spec(tmp_path, QUICK_FILL, limits=Limits(disk_bytes=64 * MIB))
    process = sandboxed_backend.start(spec)
    code = process.wait(60)
    breach = process.limit_exceeded()
    assert breach is not None and breach.kind == "disk" and "64 MiB" in breach.message, (code, breach)
    if code == 0:
        assert "when it ended" in breach.message, breach


def test_too_many_files_kill_the_container(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    notes: list[str] = []
    spec = python_spec(tmp_path, MANY_FILES, limits=Limits(disk_files=1000), note=notes.append)
    process = sandboxed_backend.start(spec)
    code = process.wait(60)
    assert code is not None and code != 0
    breach = process.limit_exceeded()
    assert breach is not None and breach.kind == "disk" and "more than 1000 files" in breach.message, breach


def test_the_group_is_removed_when_the_container_ends(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    backend = _cgroup_backend(sandboxed_backend)
    spec = python_spec(tmp_path, "import time; print('up', flush=True); time.sleep(60)")
    process = backend.start(spec)
    assert spec.stdout_path is not None
    wait_for_text(spec.stdout_path, "up", process)
    group = _group(process)
    directories = list(group.directories.values())
    assert all(directory.is_dir() for directory in directories)
    assert group.pids(), "the container's processes are in its group"
    process.stop(grace=1)
    assert process.settled() or process.limit_exceeded() is None
    deadline = time.monotonic() + 10
    while any(directory.exists() for directory in directories) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(directory.exists() for directory in directories)


def test_the_log_line_names_the_mechanism(sandboxed_backend: ProcessBackend) -> None:
    limits = Limits(memory_bytes=512 * MIB, cpus=1.0, disk_bytes=2048 * MIB, disk_files=100)
    line = sandboxed_backend.describe_limits(limits)
    if sandboxed_backend.cgroups is None:
        assert line.startswith("limits (rlimits)") and "512 MiB per process" in line
    else:
        assert line.startswith(f"limits (cgroup {sandboxed_backend.cgroups.version})")
        assert "512 MiB for the whole container" in line and "CPU 1 core(s)" in line
    assert "disk 2 GiB in at most 100 files" in line
    off = ProcessBackend(sandbox=True, cgroups="off")
    assert off.cgroups is None and off.describe_limits(limits).startswith("limits (rlimits)")


def test_an_unknown_cgroups_mode_is_refused(sandboxed_backend: ProcessBackend) -> None:
    with pytest.raises(SandboxUnavailableError, match="MODELYARD_CGROUPS is 'v3'; it must be one of auto"):
        ProcessBackend(sandbox=True, cgroups="v3")


LEAVE_A_GROUP = r"""
import json, os
from modelyard.runtime.cgroups import cgroup_tree
from modelyard.runtime.limits import Limits
tree, _ = cgroup_tree()
group = tree.create("crashed/instance", Limits())
print(json.dumps([str(d) for d in group.directories.values()]), flush=True)
os._exit(9)
"""


def test_groups_of_a_server_that_died_are_removed_by_the_next_one(sandboxed_backend: ProcessBackend) -> None:
    _cgroup_backend(sandboxed_backend)
    crashed = subprocess.run([sys.executable, "-c", LEAVE_A_GROUP], capture_output=True, text=True, timeout=60)
    left = [Path(path) for path in json.loads(crashed.stdout.strip().splitlines()[-1])]
    assert crashed.returncode == 9 and all(path.is_dir() for path in left), crashed.stderr
    subprocess.run([sys.executable, "-c", "from modelyard.runtime.cgroups import cgroup_tree; cgroup_tree()"],
                   check=True, timeout=60)
    assert not any(path.exists() for path in left)
    assert not any(path.parent.exists() for path in left), "the dead server's own directory is gone too"
