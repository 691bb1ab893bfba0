"""Sandbox uids under a root server: leased per container directory, never shared by two live containers
of different directories, not even across server processes, and given back when the container ends."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from modelyard.runtime import ContainerStartError, ProcessBackend
from modelyard.runtime import identity as identity_module
from modelyard.runtime.uid_leases import UidLeaseError, UidLeases

from .conftest import python_spec, wait_for_text

BASE = 410_000


def _colliding_keys(span: int) -> tuple[str, str]:
    """Two keys whose hashes pick the same first slot."""
    seen: dict[int, str] = {}
    for number in range(10_000):
        key = f"/data/containers/{number}/opt_ml"
        slot = zlib.crc32(key.encode()) % span
        if slot in seen:
            return seen[slot], key
        seen[slot] = key
    raise AssertionError("no collision found")


def test_keys_whose_hashes_collide_get_different_uids(tmp_path: Path) -> None:
    leases = UidLeases(tmp_path / "leases", base=BASE, span=1_000)
    first, second = _colliding_keys(1_000)
    assert leases.acquire(first) != leases.acquire(second)


def test_one_key_shares_its_uid_until_its_last_holder_releases(tmp_path: Path) -> None:
    leases = UidLeases(tmp_path / "leases", base=BASE, span=1)
    uid = leases.acquire("builder")
    assert leases.acquire("builder") == uid
    leases.release("builder")
    with pytest.raises(UidLeaseError, match="all 1 sandbox uids"):
        leases.acquire("job")
    leases.release("builder")
    assert leases.acquire("job") == uid


def test_a_uid_locked_by_another_process_is_skipped(tmp_path: Path) -> None:
    directory = tmp_path / "leases"
    key = "/data/endpoint/instance-1/opt_ml"
    first_slot = BASE + zlib.crc32(key.encode()) % 50
    holder_code = (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(directory / str(first_slot))!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n"
    )
    directory.mkdir(mode=0o700)
    holder = subprocess.Popen([sys.executable, "-c", holder_code], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        uid = UidLeases(directory, base=BASE, span=50).acquire(key)
        assert uid != first_slot
    finally:
        holder.kill()
        holder.wait()
    assert UidLeases(directory, base=BASE, span=50).acquire(key) == first_slot


def test_a_lease_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "leases"
    directory.mkdir()
    directory.chmod(0o777)
    with pytest.raises(UidLeaseError, match="mode 0700"):
        UidLeases(directory, base=BASE, span=10).acquire("key")


@pytest.mark.skipif(os.geteuid() != 0, reason="uids are leased only by a root server")
def test_a_container_holds_its_uid_until_it_ends(sandboxed_backend: ProcessBackend, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identity_module, "LEASES", UidLeases(tmp_path / "leases", base=BASE, span=1))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    running = python_spec(tmp_path / "a", "import os, time; print('uid', os.getuid(), flush=True); time.sleep(60)")
    waiting = python_spec(tmp_path / "b", "import os; print('uid', os.getuid(), flush=True)")
    process = sandboxed_backend.start(running)
    try:
        assert running.stdout_path is not None
        wait_for_text(running.stdout_path, f"uid {BASE}", process)
        with pytest.raises(ContainerStartError, match="all 1 sandbox uids"):
            sandboxed_backend.start(waiting)
    finally:
        process.kill()
    second = sandboxed_backend.start(waiting)
    assert second.wait(30) == 0
    assert waiting.stdout_path is not None and f"uid {BASE}" in waiting.stdout_path.read_text()
