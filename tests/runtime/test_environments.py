"""uv environments: built once, shared across threads and processes, recovered after crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from modelyard.runtime import (
    EnvironmentBuilder,
    EnvironmentBuildError,
    ImageSpec,
    environments,
    resolve_framework_image,
    toolkit_pythonpath,
)
from modelyard.runtime.environments import READY_MARKER, normalize_requirements

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _spec(key: str | None = None) -> ImageSpec:
    base = resolve_framework_image("python:3.11")
    return ImageSpec(
        uri="test-image",
        kind="toolkit",
        framework=None,
        framework_version=None,
        packages=(),
        serve_command=base.serve_command,
        train_command=base.train_command,
        key=key or f"test-{uuid.uuid4().hex}",
    )


@pytest.fixture(scope="module")
def builder(tmp_path_factory: pytest.TempPathFactory) -> EnvironmentBuilder:
    """One builder (and root) shared by this module's tests."""
    return EnvironmentBuilder(tmp_path_factory.mktemp("envs"))


def _import_check(python: Path, module: str) -> str:
    result = subprocess.run(
        [str(python), "-c", f"import {module}; print({module}.__file__)"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_key_ignores_comments_order_and_whitespace(builder: EnvironmentBuilder) -> None:
    spec = resolve_framework_image("sagemaker-scikit-learn:1.2-1")
    assert builder.key_for(spec, "six\nrequests>=2  # http\n") == builder.key_for(
        spec, "# deps\nrequests>=2\n\n  six\n"
    )
    assert builder.key_for(spec, "six") != builder.key_for(spec, "six==1.16.0")
    assert builder.key_for(spec, None) == builder.key_for(spec, "")
    assert builder.key_for(spec) != builder.key_for(resolve_framework_image("sagemaker-scikit-learn:1.4-2"))
    assert normalize_requirements("b\na  # x\n#c\n a \n") == ["a", "b"]


@pytest.mark.slow
def test_build_once_then_reuse(builder: EnvironmentBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = resolve_framework_image("python:3.11")
    lines: list[str] = []
    environment = builder.ensure(spec, "six\n", progress=lines.append)
    assert any("building environment" in line for line in lines)
    assert any("six" in line for line in lines), lines
    assert environment.path == builder.root / environment.key
    assert (environment.path / READY_MARKER).exists()
    assert _import_check(environment.python, "six").startswith(str(environment.path))
    assert list(environment.path.rglob("six*.pyc")), "bytecode was not compiled"
    assert environment.command(["python", "-V"])[0] == str(environment.python)
    assert environment.env_vars()["PATH"].startswith(str(environment.bin_dir))

    marker = (environment.path / READY_MARKER).stat()
    monkeypatch.setattr(environments, "run_uv", lambda *args, **kwargs: pytest.fail("uv ran for a ready environment"))
    again_lines: list[str] = []
    again = builder.ensure(spec, "# same\nsix", progress=again_lines.append)
    assert (environment.path / READY_MARKER).stat().st_mtime_ns == marker.st_mtime_ns
    assert again == environment
    assert again_lines == []

    restarted = EnvironmentBuilder(builder.root).ensure(spec, "six")
    assert restarted == environment


@pytest.mark.slow
def test_concurrent_threads_build_once(builder: EnvironmentBuilder) -> None:
    spec = _spec()
    lines: list[str] = []
    results: list[Path] = []
    errors: list[BaseException] = []

    def ensure() -> None:
        try:
            results.append(builder.ensure(spec, "six", progress=lines.append).path)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=ensure) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(results) == 2 and results[0] == results[1]
    assert sum("building environment" in line for line in lines) == 1


ENSURE_SCRIPT = """
import sys
from pathlib import Path
from modelyard.runtime import EnvironmentBuilder, ImageSpec
spec = ImageSpec(uri="test-image", kind="toolkit", framework=None, framework_version=None, packages=(),
                 serve_command=(), train_command=(), key=sys.argv[2])
lines = []
env = EnvironmentBuilder(Path(sys.argv[1])).ensure(spec, "six", progress=lines.append)
built = any("building environment" in line for line in lines)
print(env.path, "built" if built else "reused")
"""


@pytest.mark.slow
def test_concurrent_processes_build_once(tmp_path: Path) -> None:
    key = f"test-{uuid.uuid4().hex}"
    argv = [sys.executable, "-c", ENSURE_SCRIPT, str(tmp_path / "envs"), key]
    env = {**os.environ, "PYTHONPATH": SRC}
    processes = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=120)[0].split() for process in processes]
    assert [process.returncode for process in processes] == [0, 0]
    assert outputs[0][0] == outputs[1][0]
    assert sorted(output[1] for output in outputs) == ["built", "reused"]


@pytest.mark.slow
def test_failure_names_the_missing_package(builder: EnvironmentBuilder) -> None:
    spec = _spec()
    with pytest.raises(EnvironmentBuildError) as caught:
        builder.ensure(spec, "six\nnonexistent-pkg-zzz==1.0\n")
    message = str(caught.value)
    assert "nonexistent-pkg-zzz==1.0" in message
    assert caught.value.requirement == "nonexistent-pkg-zzz==1.0"
    assert "test-image" in message
    assert "not found in the package registry" in message
    assert "Resolved" not in message
    assert not (builder.root / builder.key_for(spec, "six\nnonexistent-pkg-zzz==1.0\n")).exists()


@pytest.mark.slow
def test_failure_names_an_impossible_version(builder: EnvironmentBuilder) -> None:
    with pytest.raises(EnvironmentBuildError) as caught:
        builder.ensure(_spec(), "six==99.0.0")
    assert caught.value.requirement == "six==99.0.0"
    assert "six==99.0.0" in str(caught.value)


@pytest.mark.slow
def test_failure_of_a_local_build_keeps_uv_output(builder: EnvironmentBuilder, tmp_path: Path) -> None:
    package = tmp_path / "broken"
    package.mkdir()
    (package / "setup.py").write_text("raise SystemExit('setup.py exploded on purpose')\n")
    with pytest.raises(EnvironmentBuildError) as caught:
        builder.ensure(_spec(), f"{package}\n")
    assert "setup.py exploded on purpose" in str(caught.value)


@pytest.mark.slow
def test_offline_build_names_an_uncached_package(tmp_path: Path) -> None:
    offline = EnvironmentBuilder(tmp_path / "envs", offline=True)
    missing = f"modelyard-never-cached-{uuid.uuid4().hex[:8]}"
    with pytest.raises(EnvironmentBuildError) as caught:
        offline.ensure(_spec(), missing)
    assert caught.value.requirement == missing
    assert "cache" in str(caught.value)


LOCK_AND_DIE = """
import fcntl, sys, time
from pathlib import Path
root, key = Path(sys.argv[1]), sys.argv[2]
lock = open(root / f".{key}.lock", "a")
fcntl.flock(lock, fcntl.LOCK_EX)
(root / key / "bin").mkdir(parents=True)
(root / key / "bin" / "python").write_text("half-written")
print("locked", flush=True)
time.sleep(120)
"""


def _wait_blocked_on(lock: Path, timeout: float = 60.0) -> None:
    """Wait until /proc/locks shows a process blocked on ``lock`` (a ``->`` waiter entry)."""
    suffix = f":{lock.stat().st_ino} "
    deadline = time.monotonic() + timeout
    while not any("->" in line and suffix in line for line in Path("/proc/locks").read_text().splitlines()):
        assert time.monotonic() < deadline, f"nobody waited for {lock} within {timeout}s"
        time.sleep(0.01)


@pytest.mark.slow
def test_crashed_half_built_environment_is_rebuilt(builder: EnvironmentBuilder) -> None:
    spec = _spec()
    key = builder.key_for(spec, "six")
    crashed = subprocess.Popen(
        [sys.executable, "-c", LOCK_AND_DIE, str(builder.root), key], stdout=subprocess.PIPE, text=True
    )
    assert crashed.stdout is not None and crashed.stdout.readline().strip() == "locked"
    result: list[Path] = []
    waiter = threading.Thread(target=lambda: result.append(builder.ensure(spec, "six").path))
    waiter.start()
    _wait_blocked_on(builder.root / f".{key}.lock")
    assert result == [], "ensure must wait for the lock holder"
    os.kill(crashed.pid, signal.SIGKILL)
    crashed.wait()
    waiter.join(120)
    assert result == [builder.root / key]
    assert (builder.root / key / READY_MARKER).exists()
    assert _import_check(builder.root / key / "bin" / "python", "six")


@pytest.mark.slow
def test_bad_interpreter_is_reported(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentBuildError, match="no-such-python"):
        EnvironmentBuilder(tmp_path, python=str(tmp_path / "no-such-python")).ensure(_spec())


@pytest.mark.slow
def test_toolkit_is_importable_from_a_bare_environment(builder: EnvironmentBuilder) -> None:
    environment = builder.ensure(resolve_framework_image("python:3.11"))
    result = subprocess.run(
        [str(environment.python), "-c", "import modelyard.runtime.errors as e; print(e.__file__)"],
        env={"PYTHONPATH": toolkit_pythonpath(), "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(toolkit_pythonpath())
    assert (
        subprocess.run([str(environment.python), "-c", "import sqlalchemy"], capture_output=True).returncode
        != 0
    )


def test_toolkit_pythonpath_shims_site_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import modelyard

    site = tmp_path / "lib" / "site-packages"
    (site / "modelyard").mkdir(parents=True)
    (site / "modelyard" / "__init__.py").write_text("")
    (site / "sqlalchemy").mkdir()
    monkeypatch.setattr(modelyard, "__file__", str(site / "modelyard" / "__init__.py"))
    shim = Path(toolkit_pythonpath(tmp_path / "shim"))
    assert sorted(p.name for p in shim.iterdir()) == ["modelyard"]
    assert (shim / "modelyard").resolve() == site / "modelyard"
    assert toolkit_pythonpath(tmp_path / "shim") == str(shim)


@pytest.mark.slow
def test_the_tagged_framework_version_is_what_gets_installed(builder: EnvironmentBuilder) -> None:
    spec = resolve_framework_image("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3")
    environment = builder.ensure(spec)
    result = subprocess.run([str(environment.python), "-c", "import sklearn; print(sklearn.__version__)"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("1.2."), result.stdout
