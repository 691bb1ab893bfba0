"""Dependency builds run sandboxed: a setup.py sees no secret, runs unprivileged and writes nowhere else."""

from __future__ import annotations

import json
import os
import tarfile
import uuid
from pathlib import Path

import pytest

from modelyard.runtime import ImageRegistry, ProcessBackend
from modelyard.runtime.environments import EnvironmentBuilder
from modelyard.runtime.program_paths import under_private_tmp
from tests.sandbox.probe import below_server

SETUP = """
import json, os
from setuptools import setup
record = {"uid": os.getuid(), "euid": os.geteuid(), "env": dict(os.environ), "writes": {},
          "nice": os.getpriority(os.PRIO_PROCESS, 0), "policy": os.sched_getscheduler(0)}
for target in TARGETS:
    try:
        with open(target, "w") as handle:
            handle.write("escaped")
        record["writes"][target] = "ok"
    except OSError as exc:
        record["writes"][target] = type(exc).__name__
with open(os.path.join(os.environ["UV_CACHE_DIR"], "probe-record.json"), "w") as handle:
    json.dump(record, handle)
setup(name="probe-pkg", version="1.0", py_modules=[])
"""


def _sdist(directory: Path, targets: list[str]) -> Path:
    source = directory / "probe_pkg-1.0"
    source.mkdir(parents=True)
    (source / "setup.py").write_text(f"TARGETS = {targets!r}\n{SETUP}")
    archive = directory / "probe_pkg-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname="probe_pkg-1.0")
    return archive


def _private(target: str) -> bool:
    """The build's own /tmp took the write: under a normal-user server, the directories bwrap makes there on
    the way to the build's binds belong to the build's uid (under a root server, to root)."""
    return os.geteuid() != 0 and under_private_tmp(target)


def test_a_setup_py_runs_unprivileged_without_secrets_and_cannot_write_elsewhere(
    sandboxed_backend: ProcessBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "build-secret-do-not-leak")
    monkeypatch.setenv("MODELYARD_DATABASE_URL", "postgresql://secret@localhost/db")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "modelyard.db").write_text("database")
    marker = uuid.uuid4().hex
    targets = [f"/root/modelyard-{marker}", str(data_dir / f"modelyard-{marker}"), f"/etc/modelyard-{marker}",
               f"/usr/modelyard-{marker}", str(data_dir / "modelyard.db")]
    archive = _sdist(tmp_path / "src", targets)
    builder = EnvironmentBuilder(data_dir / "envs", backend=sandboxed_backend)
    spec = ImageRegistry(tmp_path / "images").resolve("python:3.11")
    environment = builder.ensure(spec, f"file://{archive}")
    record = json.loads((data_dir / "envs" / ".uv-cache" / "probe-record.json").read_text())
    assert record["uid"] != 0 and record["euid"] != 0
    assert not any(name.startswith(("AWS_", "MODELYARD_")) for name in record["env"]), record["env"]
    assert "build-secret-do-not-leak" not in json.dumps(record)
    refused = {"PermissionError", "OSError", "FileNotFoundError"}
    for target, result in record["writes"].items():
        assert result in refused or _private(target), (target, record["writes"])
    for target in targets[:-1]:
        assert not os.path.exists(target)
    assert (data_dir / "modelyard.db").read_text() == "database"
    assert (environment.path / ".modelyard-ready").exists()
    assert record["nice"] == below_server() and record["policy"] == os.SCHED_BATCH, "builds yield the CPU"
