"""Container process lifecycle: stop/kill, dying with the parent, backend selection, start errors."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from modelyard.runtime import ContainerSpec, ContainerStartError, ProcessBackend, SandboxUnavailableError

from .conftest import python_spec, run_to_end, wait_for_text

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _pids_with_marker(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline and b"bwrap" not in cmdline.split(b"\0")[0]:
            found.append(int(entry))
    return found


def _wait_until(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(backend: ProcessBackend, tmp_path: Path) -> None:
    code_text = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready'); time.sleep(99)"
    )
    spec = python_spec(tmp_path, code_text)
    process = backend.start(spec)
    assert spec.stdout_path is not None
    wait_for_text(spec.stdout_path, "ready", process)
    started = time.monotonic()
    code = process.stop(grace=0.5)
    elapsed = time.monotonic() - started
    assert code == 128 + signal.SIGKILL
    assert elapsed >= 0.5, "SIGKILL came before the grace period ended"
    assert process.poll() == code


def test_stop_delivers_sigterm_to_the_program(backend: ProcessBackend, tmp_path: Path) -> None:
    code_text = textwrap.dedent(
        """
        import signal, sys, time
        def on_term(signum, frame):
            print("graceful shutdown")
            sys.exit(7)
        signal.signal(signal.SIGTERM, on_term)
        print("ready")
        time.sleep(120)
        """
    )
    spec = python_spec(tmp_path, code_text)
    process = backend.start(spec)
    assert spec.stdout_path is not None
    wait_for_text(spec.stdout_path, "ready", process)
    assert process.stop(grace=20) == 7
    assert "graceful shutdown" in spec.stdout_path.read_text()


def test_default_sigterm_exit_status(backend: ProcessBackend, tmp_path: Path) -> None:
    spec = python_spec(tmp_path, "import time; print('ready'); time.sleep(120)")
    process = backend.start(spec)
    assert spec.stdout_path is not None
    wait_for_text(spec.stdout_path, "ready", process)
    assert process.pids(), "a running container has processes"
    assert process.stop(grace=20) == 128 + signal.SIGTERM
    assert process.pids() == []


def test_stop_reaches_the_whole_tree(backend: ProcessBackend, tmp_path: Path) -> None:
    marker = f"grandchild-{uuid.uuid4().hex}"
    code_text = textwrap.dedent(
        f"""
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "{marker}"])
        print("ready")
        time.sleep(120)
        """
    )
    spec = python_spec(tmp_path, code_text)
    process = backend.start(spec)
    assert spec.stdout_path is not None
    wait_for_text(spec.stdout_path, "ready", process)
    assert _wait_until(lambda: _pids_with_marker(marker), 10)
    process.stop(grace=5)
    assert _wait_until(lambda: not _pids_with_marker(marker), 10), "the grandchild outlived stop()"


def test_kill_and_wait_timeout(backend: ProcessBackend, tmp_path: Path) -> None:
    process = backend.start(python_spec(tmp_path, "import time; time.sleep(120)"))
    assert process.wait_started()
    assert process.wait(0.2) is None
    assert process.poll() is None and process.returncode is None
    assert process.kill() == 128 + signal.SIGKILL
    assert process.stop() == 128 + signal.SIGKILL


PARENT_SCRIPT = """
import sys, time
from pathlib import Path
from modelyard.runtime import ContainerSpec, ProcessBackend
backend = ProcessBackend(sandbox={sandbox})
opt_ml = Path(sys.argv[1])
spec = ContainerSpec(argv=[sys.executable, "-c", "import time; time.sleep(120)", sys.argv[2]], opt_ml=opt_ml)
backend.start(spec)
print("started", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("sandbox", [True, False])
def test_container_dies_with_its_parent(
    sandbox: bool, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if sandbox:
        request.getfixturevalue("sandboxed_backend")
    marker = f"orphan-check-{uuid.uuid4().hex}"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT.format(sandbox=sandbox), str(tmp_path / "opt_ml"), marker],
        env={**os.environ, "PYTHONPATH": SRC},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "started"
        assert _wait_until(lambda: set(_pids_with_marker(marker)) - {parent.pid}, 10), (
            "the container never started"
        )
        parent.kill()
        parent.wait(10)
        assert _wait_until(lambda: not _pids_with_marker(marker), 10), "the container outlived its parent"
    finally:
        parent.kill()
        for pid in _pids_with_marker(marker):
            os.kill(pid, signal.SIGKILL)


def test_sandbox_required_but_missing_raises(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailableError, match="cannot run"):
        ProcessBackend(sandbox=True, bwrap=str(tmp_path / "no-such-bwrap"))


def test_auto_falls_back_with_a_warning_when_bwrap_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="modelyard.runtime"):
        backend = ProcessBackend(bwrap=str(fake))
    assert backend.sandboxed is False
    assert backend.sandbox_problem is not None and "Permission denied" in backend.sandbox_problem
    assert any(
        "sandbox is OFF" in r.getMessage() and "Permission denied" in r.getMessage() for r in caplog.records
    )
    code, log = run_to_end(backend, python_spec(tmp_path, "import os; print(os.getcwd())"))
    assert code == 0 and log.strip() == str(tmp_path / "opt_ml")


def test_auto_uses_the_sandbox_when_bwrap_works(sandboxed_backend: ProcessBackend) -> None:
    assert ProcessBackend().sandboxed is True


def test_missing_bind_source_is_refused(backend: ProcessBackend, tmp_path: Path) -> None:
    spec = python_spec(tmp_path, "pass", binds=[(tmp_path / "missing", "/opt/ml/x", True)])
    with pytest.raises(ContainerStartError, match="missing"):
        backend.start(spec)


def test_empty_argv_is_refused(backend: ProcessBackend, tmp_path: Path) -> None:
    with pytest.raises(ContainerStartError, match="empty argv"):
        backend.start(ContainerSpec(argv=[], opt_ml=tmp_path))


def test_missing_program(backend: ProcessBackend, tmp_path: Path) -> None:
    spec = ContainerSpec(
        argv=[f"/nonexistent-{uuid.uuid4().hex}/nope"],
        opt_ml=tmp_path / "opt_ml",
        stdout_path=tmp_path / "log",
    )
    if backend.sandboxed:
        code, log = run_to_end(backend, spec)
        assert code != 0 and "nope" in log
    else:
        with pytest.raises(ContainerStartError, match="nope"):
            backend.start(spec)


@pytest.mark.parametrize("inside", ["/no-such-top-level-dir/x", "relative/path"])
def test_unmountable_inside_path_is_refused(
    sandboxed_backend: ProcessBackend, tmp_path: Path, inside: str
) -> None:
    spec = python_spec(tmp_path, "pass", binds=[(tmp_path, inside, True)])
    with pytest.raises(ContainerStartError, match="cannot mount at"):
        sandboxed_backend.start(spec)


def test_mounts_under_opt_and_tmp_are_created(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    (tmp_path / "program").mkdir()
    (tmp_path / "program" / "p.txt").write_text("program")
    code_text = "print(open('/opt/program/p.txt').read() + open('/tmp/a/b/p.txt').read())"
    mounts = [(tmp_path / "program", "/opt/program"), (tmp_path / "program", "/tmp/a/b")]
    code, log = run_to_end(sandboxed_backend, python_spec(tmp_path, code_text, ro_binds=mounts))
    assert code == 0 and log.strip() == "programprogram"


def test_program_under_host_tmp_runs_with_only_its_directory_bound(sandboxed_backend: ProcessBackend,
                                                                    tmp_path: Path) -> None:
    assert str(tmp_path).startswith("/tmp/"), "pytest's tmp_path is expected under /tmp here"
    program = tmp_path / "bin" / "hello"
    program.parent.mkdir()
    program.write_text('#!/bin/sh\necho hello from $0; ls -A "$(dirname "$0")/.."\n')
    program.chmod(0o755)
    (tmp_path / "sibling").write_text("hidden")
    spec = ContainerSpec(argv=[str(program)], opt_ml=tmp_path / "opt_ml", stdout_path=tmp_path / "log")
    code, log = run_to_end(sandboxed_backend, spec)
    assert code == 0 and log.split() == ["hello", "from", str(program), "bin"]
    assert spec.ro_binds == []


def test_capture_output_sends_stdout_and_stderr_to_one_pipe(tmp_path):  # type: ignore[no-untyped-def]
    from modelyard.runtime.process import ContainerSpec, ProcessBackend

    backend = ProcessBackend()
    spec = ContainerSpec(argv=["/bin/sh", "-c", "echo out; echo err >&2"], opt_ml=tmp_path / "opt_ml",
                         capture_output=True)
    process = backend.start(spec)
    assert process.stdout is not None
    output = process.stdout.read().decode().split()
    assert process.wait(10) == 0
    assert sorted(output) == ["err", "out"]
