"""Fixtures for the runtime tests: the sandboxed and plain process backends and helpers to run Python."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from modelyard.runtime import ContainerProcess, ContainerSpec, ProcessBackend
from modelyard.runtime.sandbox import bwrap_problem, find_bwrap


@pytest.fixture(scope="session")
def sandboxed_backend() -> ProcessBackend:
    """A backend that uses bubblewrap (skipped only where bwrap cannot run at all)."""
    bwrap = find_bwrap()
    problem = bwrap_problem(bwrap) if bwrap else "bwrap is not installed"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the sandbox tests, but bwrap cannot run here: {problem}")
        pytest.skip(f"sandbox unavailable: {problem}")
    return ProcessBackend(sandbox=True)


@pytest.fixture(scope="session")
def plain_backend() -> ProcessBackend:
    """The fallback backend: plain subprocesses."""
    return ProcessBackend(sandbox=False)


@pytest.fixture(params=["sandboxed", "plain"])
def backend(request: pytest.FixtureRequest) -> ProcessBackend:
    """Each backend in turn."""
    return request.getfixturevalue(f"{request.param}_backend")


def python_spec(tmp_path: Path, code: str, **kwargs: object) -> ContainerSpec:
    """A container running ``code`` with this interpreter; /opt/ml and the log live in ``tmp_path``."""
    opt_ml = tmp_path / "opt_ml"
    opt_ml.mkdir(exist_ok=True)
    return ContainerSpec(
        argv=[sys.executable, "-c", code],
        opt_ml=opt_ml,
        stdout_path=tmp_path / "container.log",
        **kwargs,  # type: ignore[arg-type]
    )


def run_to_end(backend: ProcessBackend, spec: ContainerSpec, timeout: float = 60.0) -> tuple[int, str]:
    """Start ``spec``, wait for it, return its exit status and log text."""
    process = backend.start(spec)
    code = process.wait(timeout)
    if code is None:
        process.kill()
        raise AssertionError(f"{spec.name} did not finish in {timeout}s")
    assert spec.stdout_path is not None
    return code, spec.stdout_path.read_text()


def last_json(log: str) -> dict[str, object]:
    """The last line of ``log`` parsed as JSON."""
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines, "the container wrote nothing"
    result: dict[str, object] = json.loads(lines[-1])
    return result


def wait_for_text(path: Path, text: str, process: ContainerProcess, timeout: float = 30.0) -> None:
    """Wait until ``text`` appears in ``path`` while ``process`` still runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        if process.poll() is not None:
            content = path.read_text() if path.exists() else ""
            raise AssertionError(f"process exited {process.returncode} before writing {text!r}: {content}")
        time.sleep(0.02)
    raise AssertionError(f"{text!r} did not appear in {path} within {timeout}s")
