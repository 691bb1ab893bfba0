"""Dependency builds run sandboxed: a setup.py sees no secret, runs unprivileged and writes nowhere else."""

from __future__ import annotations

import json
import os
import tarfile
import uuid
import zipfile
from pathlib import Path

import pytest

from modelyard.runtime import ImageRegistry, ProcessBackend
from modelyard.runtime.environments import EnvironmentBuilder
from modelyard.runtime.program_paths import under_private_tmp
from tests.sandbox.probe import below_server

SETUP = """
import glob, json, os
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
record["cache"] = os.environ["UV_CACHE_DIR"]
for env in glob.glob(os.path.join(ENVS, "*", ".modelyard-requirements.txt")):
    with open(os.path.join(os.path.dirname(env), "probe-record.json"), "w") as handle:
        json.dump(record, handle)
try:
    with open(os.path.join(ENVS, ".uv-cache", "poisoned-by-setup-py"), "w") as handle:
        handle.write("a wheel a later build would trust")
except OSError:
    pass
setup(name="probe-pkg", version="1.0", py_modules=[])
"""


def _sdist(directory: Path, targets: list[str], envs: Path) -> Path:
    source = directory / "probe_pkg-1.0"
    source.mkdir(parents=True)
    (source / "setup.py").write_text(f"TARGETS = {targets!r}\nENVS = {str(envs)!r}\n{SETUP}")
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
    archive = _sdist(tmp_path / "src", targets, data_dir / "envs")
    builder = EnvironmentBuilder(data_dir / "envs", backend=sandboxed_backend)
    spec = ImageRegistry(tmp_path / "images").resolve("python:3.11")
    environment = builder.ensure(spec, f"file://{archive}")
    record = json.loads((environment.path / "probe-record.json").read_text())
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


def test_a_setup_py_cannot_leave_anything_in_the_cache_later_builds_read(
    sandboxed_backend: ProcessBackend, tmp_path: Path
) -> None:
    """A source build runs with a private cache, deleted after it: the shared cache, which later builds
    install from, never holds what a setup.py wrote."""
    envs = tmp_path / "data" / "envs"
    archive = _sdist(tmp_path / "src", [], envs)
    builder = EnvironmentBuilder(envs, backend=sandboxed_backend)
    environment = builder.ensure(ImageRegistry(tmp_path / "images").resolve("python:3.11"), f"file://{archive}")
    record = json.loads((environment.path / "probe-record.json").read_text())
    assert Path(record["cache"]).parent == envs / ".uv-cache-builds", record["cache"]
    assert not (envs / ".uv-cache" / "poisoned-by-setup-py").exists()
    assert not Path(record["cache"]).exists(), "the private cache is deleted after the build"
    assert (environment.path / ".modelyard-ready").exists()


def _pth_wheel(directory: Path) -> Path:
    """A wheel whose ``.pth`` file leaves a mark in any environment whose Python starts with ``site`` on."""
    wheel = directory / "pthprobe-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pthprobe.pth", "import sys; open(sys.prefix + '/pth-ran', 'w').close()\n")
        archive.writestr("pthprobe/__init__.py", "")
        archive.writestr("pthprobe-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: pthprobe\nVersion: 1.0\n")
        archive.writestr("pthprobe-1.0.dist-info/WHEEL",
                         "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr("pthprobe-1.0.dist-info/RECORD", "")
    wheel.chmod(0o644)
    return wheel


def test_a_wheels_only_build_runs_none_of_the_code_its_wheels_ship(
    sandboxed_backend: ProcessBackend, tmp_path: Path
) -> None:
    """Wheels install with the shared cache writable, so none of their code may run then: the bytecode is
    compiled with ``site`` off, and the ``.pth`` file first runs when the environment is used."""
    tmp_path.chmod(0o755)
    envs = tmp_path / "envs"
    builder = EnvironmentBuilder(envs, backend=sandboxed_backend)
    environment = builder.ensure(ImageRegistry(tmp_path / "images").resolve("python:3.11"),
                                 f"file://{_pth_wheel(tmp_path)}")
    assert (environment.path / ".modelyard-ready").exists()
    assert not (environment.path / "pth-ran").exists(), "code a wheel shipped ran during the build"
    assert list(environment.path.glob("lib/python*/site-packages/pthprobe/__pycache__/*.pyc")), "compiled"
    assert list((envs / ".uv-cache").iterdir()), "a wheels-only build uses the shared cache"
    assert not list(envs.glob(".uv-cache-builds/*"))
