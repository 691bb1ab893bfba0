"""The bubblewrap sandbox, exercised with real processes: filesystem, /tmp, network, sockets, env."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelyard
from modelyard.runtime import ProcessBackend
from modelyard.runtime.program_paths import hidden_program_paths

from .conftest import last_json, python_spec, run_to_end, wait_for_text

WRITE_PROBE = """
import errno, json, sys
results = {}
for path in sys.argv[1:]:
    try:
        with open(path, "w") as handle:
            handle.write("x")
        results[path] = "ok"
    except OSError as exc:
        results[path] = errno.errorcode[exc.errno]
print(json.dumps(results))
"""


def test_root_is_read_only_except_opt_ml_and_tmp(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    name = f"modelyard-probe-{uuid.uuid4().hex}"
    targets = {
        "home": str(Path.home() / name),
        "work": str(Path(modelyard.__file__).resolve().parent / name),  # bound read-only if under /tmp
        "opt": f"/opt/{name}",
        "opt_ml": f"/opt/ml/{name}",
        "tmp": f"/tmp/{name}",
    }
    spec = python_spec(tmp_path, WRITE_PROBE)
    spec.argv += list(targets.values())
    code, log = run_to_end(sandboxed_backend, spec)
    results = last_json(log)
    assert code == 0, log
    assert results[targets["home"]] in ("EROFS", "ENOENT"), "read-only, or absent (a home outside the view)"
    assert results[targets["work"]] == "EROFS"
    assert results[targets["opt"]] == "EROFS"
    assert results[targets["opt_ml"]] == "ok"
    assert results[targets["tmp"]] == "ok"
    assert (tmp_path / "opt_ml" / name).read_text() == "x"
    assert not Path(targets["home"]).exists() and not Path(targets["work"]).exists()


def test_tmp_is_private(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    host_file = Path("/tmp") / f"modelyard-host-{uuid.uuid4().hex}"
    host_file.write_text("host")
    inside_file = f"/tmp/modelyard-inside-{uuid.uuid4().hex}"
    code_text = (
        "import json, os, sys\n"
        "open(sys.argv[2], 'w').write('inside')\n"
        "print(json.dumps({'sees_host_file': os.path.exists(sys.argv[1]), 'listing': os.listdir('/tmp')}))\n"
    )
    spec = python_spec(tmp_path, code_text)
    spec.argv += [str(host_file), inside_file]
    try:
        code, log = run_to_end(sandboxed_backend, spec)
    finally:
        host_file.unlink()
    result = last_json(log)
    assert code == 0, log
    assert result["sees_host_file"] is False
    assert set(result["listing"]) == {Path(inside_file).name} | _revealed_for_this_interpreter()
    assert not Path(inside_file).exists()


def _revealed_for_this_interpreter() -> set[str]:
    """Top-level /tmp entries bound for this interpreter (none unless the checkout lives under /tmp)."""
    return {Path(path).parts[2] for path in hidden_program_paths(sys.executable)}


def test_program_under_tmp_runs_and_the_rest_of_tmp_stays_hidden(sandboxed_backend: ProcessBackend,
                                                                   tmp_path: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="modelyard-venv-", dir="/tmp"))
    host_file = Path("/tmp") / f"modelyard-host-{uuid.uuid4().hex}"
    try:
        venv, source = root / "venv", root / "src"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        source.mkdir()
        (source / "revealed_probe.py").write_text("VALUE = 'imported'\n")
        next(venv.glob("lib/python*/site-packages")).joinpath("probe.pth").write_text(f"{source}\n")
        (root / "secret.txt").write_text("host")
        host_file.write_text("host")
        code_text = (
            "import json, os, sys, revealed_probe\n"
            "print(json.dumps({'value': revealed_probe.VALUE, 'root': sorted(os.listdir(sys.argv[1])),"
            " 'sees_host_file': os.path.exists(sys.argv[2]), 'prefix': sys.prefix}))\n"
        )
        spec = python_spec(tmp_path, code_text)
        spec.argv = [str(venv / "bin" / "python"), "-c", code_text, str(root), str(host_file)]
        code, log = run_to_end(sandboxed_backend, spec)
    finally:
        host_file.unlink(missing_ok=True)
        shutil.rmtree(root, ignore_errors=True)
    result = last_json(log)
    assert code == 0, log
    assert result == {"value": "imported", "root": ["src", "venv"], "sees_host_file": False, "prefix": str(venv)}
    assert spec.ro_binds == []


@pytest.fixture()
def tcp_listener() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that answers every connection with b'hi'."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            with connection:
                connection.sendall(b"hi")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join(5)
    server.close()


CONNECT_PROBE = """
import json, socket, sys
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as conn:
        print(json.dumps({"connected": True, "data": conn.recv(2).decode()}))
except OSError as exc:
    print(json.dumps({"connected": False, "error": type(exc).__name__}))
"""


@pytest.mark.parametrize("isolated", [True, False])
def test_network_isolation(
    sandboxed_backend: ProcessBackend, tmp_path: Path, tcp_listener: int, isolated: bool
) -> None:
    spec = python_spec(tmp_path, CONNECT_PROBE, network_isolated=isolated)
    spec.argv.append(str(tcp_listener))
    code, log = run_to_end(sandboxed_backend, spec)
    result = last_json(log)
    assert code == 0, log
    assert result["connected"] is False, "the host's loopback is out of reach, isolated or not"


def test_host_network_backend_reaches_the_host_loopback(tmp_path: Path, tcp_listener: int) -> None:
    """The host network is kept only as an explicit choice (the benchmark's baseline)."""
    backend = ProcessBackend(sandbox=True, host_network=True)
    spec = python_spec(tmp_path, CONNECT_PROBE)
    spec.argv.append(str(tcp_listener))
    code, log = run_to_end(backend, spec)
    assert code == 0, log
    assert last_json(log) == {"connected": True, "data": "hi"}


UNIX_SERVER = """
import os, socket, sys
path = sys.argv[1]
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(1)
print("listening", flush=True)
connection, _ = server.accept()
connection.sendall(b"from-container:" + connection.recv(100))
connection.close()
"""


def test_unix_socket_dir_shared_at_same_path(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    socket_dir = tmp_path / "sockets"
    socket_dir.mkdir()
    socket_path = socket_dir / "c.sock"
    spec = python_spec(
        tmp_path, UNIX_SERVER, binds=[(socket_dir, str(socket_dir), True)], network_isolated=True
    )
    spec.argv.append(str(socket_path))
    process = sandboxed_backend.start(spec)
    try:
        assert spec.stdout_path is not None
        wait_for_text(spec.stdout_path, "listening", process)
        assert stat.S_ISSOCK(socket_path.stat().st_mode)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(10)
            client.connect(str(socket_path))
            client.sendall(b"ping")
            assert client.recv(100) == b"from-container:ping"
        assert process.wait(10) == 0
    finally:
        process.kill()


def test_read_only_bind_and_inside_paths(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "input.txt").write_text("payload")
    code_text = (
        "import errno, json, sys\n"
        "text = open('/opt/ml/input/data/train/input.txt').read()\n"
        "try:\n    open('/opt/ml/input/data/train/new', 'w'); result = 'ok'\n"
        "except OSError as exc:\n    result = errno.errorcode[exc.errno]\n"
        "print(json.dumps({'text': text, 'write': result}))\n"
    )
    spec = python_spec(tmp_path, code_text, ro_binds=[(data, "/opt/ml/input/data/train")])
    assert sandboxed_backend.inside_path(spec, data / "input.txt") == "/opt/ml/input/data/train/input.txt"
    assert sandboxed_backend.inside_path(spec, spec.opt_ml / "model") == "/opt/ml/model"
    assert sandboxed_backend.inside_path(spec, spec.opt_ml) == "/opt/ml"
    assert sandboxed_backend.inside_path(spec, "/usr/bin/env") == "/usr/bin/env"
    code, log = run_to_end(sandboxed_backend, spec)
    assert code == 0, log
    assert last_json(log) == {"text": "payload", "write": "EROFS"}


def test_plain_backend_maps_nothing(plain_backend: ProcessBackend, tmp_path: Path) -> None:
    spec = python_spec(tmp_path, "pass")
    assert plain_backend.sandboxed is False
    assert plain_backend.inside_path(spec, spec.opt_ml / "model") == str(spec.opt_ml / "model")


ENV_PROBE = "import json, os; print(json.dumps({'env': dict(os.environ), 'cwd': os.getcwd()}))"


def test_environment_is_complete_not_inherited(
    backend: ProcessBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_SERVER_SECRET", "must-not-leak")
    monkeypatch.setenv("LANG", "C.UTF-8")
    spec = python_spec(tmp_path, ENV_PROBE, env={"SM_MODEL_DIR": "/opt/ml/model", "PYTHONUNBUFFERED": "0"})
    code, log = run_to_end(backend, spec)
    result = last_json(log)
    env = result["env"]
    assert isinstance(env, dict)
    assert code == 0, log
    assert "MODELYARD_SERVER_SECRET" not in env
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert env["PYTHONUNBUFFERED"] == "0"
    assert env["LANG"] == "C.UTF-8"
    assert env["PATH"] == os.environ["PATH"]
    if backend.sandboxed:
        assert env["HOME"] == "/tmp"
        assert result["cwd"] == "/opt/ml"
    else:
        assert result["cwd"] == str(spec.opt_ml)


def test_log_lines_arrive_while_running(backend: ProcessBackend, tmp_path: Path) -> None:
    code_text = "import sys, time\nprint('first line')\nprint('to stderr', file=sys.stderr)\ntime.sleep(60)\n"
    spec = python_spec(tmp_path, code_text)
    process = backend.start(spec)
    try:
        assert spec.stdout_path is not None
        wait_for_text(spec.stdout_path, "first line", process)
        wait_for_text(spec.stdout_path, "to stderr", process)
    finally:
        process.kill()


def test_separate_stderr_file(backend: ProcessBackend, tmp_path: Path) -> None:
    spec = python_spec(tmp_path, "import sys; print('out'); print('err', file=sys.stderr)")
    spec.stderr_path = tmp_path / "stderr.log"
    (tmp_path / "container.log").write_text("earlier run\n")
    code, log = run_to_end(backend, spec)
    assert code == 0
    assert log == "earlier run\nout\n"
    assert spec.stderr_path.read_text() == "err\n"


@pytest.mark.parametrize("exit_code", [0, 3])
def test_exit_status_propagates(backend: ProcessBackend, tmp_path: Path, exit_code: int) -> None:
    code, _ = run_to_end(backend, python_spec(tmp_path, f"raise SystemExit({exit_code})"))
    assert code == exit_code


def test_concurrent_starts_from_short_lived_threads(backend: ProcessBackend, tmp_path: Path) -> None:
    go = "import os, time\nwhile not os.path.exists('go'):\n    time.sleep(0.01)\nprint('done')\n"
    spec = python_spec(tmp_path, go)
    processes = []

    def start() -> None:
        processes.append(backend.start(spec))

    threads = [threading.Thread(target=start) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(processes) == 5
    assert all(process.poll() is None for process in processes), "a container died with its starting thread"
    (tmp_path / "opt_ml" / "go").touch()
    assert [process.wait(30) for process in processes] == [0] * 5
    assert (tmp_path / "container.log").read_text().count("done") == 5  # five writers, one log: lines interleave
