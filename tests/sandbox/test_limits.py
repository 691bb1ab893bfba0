"""Limits per container: memory, processes, /tmp and file size each stop the container alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelyard.runtime import ProcessBackend
from modelyard.runtime.identity import nproc_per_user_namespace
from modelyard.runtime.limits import GIB, INSTANCE_MEMORY, MIB, Limits, limits_for

from ..runtime.conftest import last_json, python_spec, run_to_end

MEMORY = r"""
import json
try:
    block = bytearray(4 * 1024 ** 3)
    print(json.dumps({"allocated": len(block)}))
except MemoryError:
    print(json.dumps({"allocated": 0}))
"""

FORK_BOMB = r"""
import errno, json, os, time
children, refused = [], None
for _ in range(400):
    try:
        pid = os.fork()
    except OSError as exc:
        refused = errno.errorcode[exc.errno]
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
print(json.dumps({"forked": len(children), "refused": refused}))
"""

FILL = r"""
import errno, json, sys
written, refused = 0, None
try:
    with open(sys.argv[1], "wb") as handle:
        for _ in range(4096):
            handle.write(b"x" * (1 << 20))
            handle.flush()
            written += 1
except OSError as exc:
    refused = errno.errorcode[exc.errno]
print(json.dumps({"mib": written, "refused": refused}))
"""


def test_instance_types_know_their_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELYARD_MEMORY_LIMIT_MB", raising=False)
    monkeypatch.delenv("MODELYARD_DEFAULT_MEMORY_MB", raising=False)
    assert INSTANCE_MEMORY["ml.t2.medium"] == 4 * GIB and INSTANCE_MEMORY["ml.m5.large"] == 8 * GIB
    assert limits_for("ml.m5.xlarge").memory_bytes == 16 * GIB
    assert limits_for("ml.unknown.type").memory_bytes == 4 * GIB
    monkeypatch.setenv("MODELYARD_DEFAULT_MEMORY_MB", "2048")
    assert limits_for("ml.unknown.type").memory_bytes == 2 * GIB
    assert limits_for(None).memory_bytes == 2 * GIB
    monkeypatch.setenv("MODELYARD_MEMORY_LIMIT_MB", "300")
    assert limits_for("ml.t2.medium").memory_bytes == 300 * MIB


def test_an_instance_reports_its_cpu_quota_in_whole_vcpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELYARD_CPU_LIMIT", raising=False)
    cores = os.cpu_count() or 1
    assert limits_for("ml.m5.large").vcpus == min(2, cores)
    assert limits_for("ml.m5.24xlarge").vcpus == cores
    monkeypatch.setenv("MODELYARD_CPU_LIMIT", "0.5")
    assert limits_for("ml.m5.large").vcpus == 1
    assert Limits(cpus=None).vcpus == cores


def test_a_4_gb_allocation_fails_under_a_smaller_memory_limit(
    sandboxed_backend: ProcessBackend, tmp_path: Path
) -> None:
    spec = python_spec(tmp_path, MEMORY, limits=Limits(memory_bytes=512 * MIB))
    code, log = run_to_end(sandboxed_backend, spec)
    assert code == 0, log
    assert last_json(log) == {"allocated": 0}


def test_a_fork_bomb_is_capped(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    if sandboxed_backend.cgroups is None and os.geteuid() != 0 and not nproc_per_user_namespace():
        pytest.skip("without cgroups, a normal-user server's RLIMIT_NPROC is per container only on Linux 5.14 "
                    "and later (counted per user namespace)")
    spec = python_spec(tmp_path, FORK_BOMB, limits=Limits(processes=64))
    code, log = run_to_end(sandboxed_backend, spec)
    assert code == 0, log
    seen = last_json(log)
    assert seen["refused"] == "EAGAIN" and seen["forked"] < 64, seen


def test_filling_tmp_stops_at_its_size(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    spec = python_spec(tmp_path, FILL, limits=Limits(tmp_bytes=32 * MIB))
    spec.argv.append("/tmp/fill")
    code, log = run_to_end(sandboxed_backend, spec)
    assert code == 0, log
    seen = last_json(log)
    assert seen["refused"] == "ENOSPC" and seen["mib"] <= 32, seen


def test_one_file_stops_at_the_file_size_limit(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    spec = python_spec(tmp_path, "import signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n" + FILL,
                       limits=Limits(file_bytes=8 * MIB))
    spec.argv.append("/opt/ml/big")
    code, log = run_to_end(sandboxed_backend, spec)
    assert code == 0, log
    seen = last_json(log)
    assert seen["refused"] == "EFBIG" and seen["mib"] == 8, seen
    assert (tmp_path / "opt_ml" / "big").stat().st_size == 8 * MIB


def test_filling_a_writable_system_directory_stops_at_the_tmp_size(
    sandboxed_backend: ProcessBackend, tmp_path: Path
) -> None:
    spec = python_spec(tmp_path, FILL, limits=Limits(tmp_bytes=32 * MIB), writable=["/etc"])
    spec.argv.append("/etc/fill")
    code, log = run_to_end(sandboxed_backend, spec)
    assert code == 0, log
    seen = last_json(log)
    assert seen["refused"] == "ENOSPC" and seen["mib"] <= 32, seen
    assert not Path("/etc/fill").exists()
