"""uv virtual environments keyed by what goes into them, built once and shared.

::

    ensure(spec, requirements) ─► key = sha256(spec.key, packages, requirements, python)
        root/<key>/.modelyard-ready exists? ─► reuse
        else flock(root/.<key>.lock) ─► remove a half-built root/<key>/ ─► uv venv ─► uv pip install
                                     ─► write .modelyard-ready last

The lock is an ``fcntl.flock``, so a concurrent ``ensure`` of the same key in another thread or
process waits and reuses the result; a build that crashed leaves no marker and is redone. Packages
come from uv's shared cache (hardlinked when the cache is on the same filesystem, else copied) and
are bytecode-compiled at install time. In the sandbox the shared cache serves wheel-only installs; a
requirement that needs a source build is built with a private cache (``_install_sandboxed``).
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

from modelyard.runtime.build_sandbox import compile_bytecode_sandboxed, run_uv_sandboxed
from modelyard.runtime.errors import EnvironmentBuildError
from modelyard.runtime.images import ImageSpec
from modelyard.runtime.process import ProcessBackend
from modelyard.runtime.uvtool import Progress, failed_requirement, find_uv, relevant_lines, run_uv

READY_MARKER = ".modelyard-ready"
REQUIREMENTS_FILE = ".modelyard-requirements.txt"
STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Environment:
    """A ready virtual environment."""

    path: Path
    python: Path
    key: str

    @property
    def bin_dir(self) -> Path:
        """The venv's ``bin`` directory."""
        return self.path / "bin"

    def command(self, argv: list[str] | tuple[str, ...]) -> list[str]:
        """``argv`` with a leading ``python``/``python3`` (or another venv script name) made absolute."""
        if not argv:
            raise ValueError("empty argv")
        first, rest = argv[0], list(argv[1:])
        if first in ("python", "python3"):
            return [str(self.python), *rest]
        if "/" not in first and (self.bin_dir / first).is_file():
            return [str(self.bin_dir / first), *rest]
        return [first, *rest]

    def env_vars(self, *extra_path: str) -> dict[str, str]:
        """``VIRTUAL_ENV`` and a ``PATH`` that puts the venv (then ``extra_path``) first."""
        path = os.pathsep.join([str(self.bin_dir), *extra_path, STANDARD_PATH])
        return {"VIRTUAL_ENV": str(self.path), "PATH": path}


class EnvironmentBuilder:
    """Builds and reuses environments under ``root`` (one directory per key)."""

    def __init__(
        self, root: Path, *, python: str | None = None, uv: str = "uv", offline: bool = False,
        backend: ProcessBackend | None = None,
    ) -> None:
        """``backend``: when sandboxed, ``uv pip install`` (which runs sdists' build code) runs in its
        sandbox (``build_sandbox``); ``uv venv`` runs no user code and stays outside."""
        self.root = Path(root)
        self.backend = backend if backend is not None and backend.sandboxed else None
        self.root.mkdir(parents=True, exist_ok=True)
        self.python = python or sys.executable
        self.uv = find_uv(uv)
        self.offline = offline
        self._python_version: str | None = None
        self._link_mode: str | None = None

    def key_for(self, spec: ImageSpec, requirements: str | None = None) -> str:
        """The environment key of ``spec`` plus a requirements text (32 hex digits of a sha256)."""
        material = {
            "image": spec.key,
            "packages": sorted(spec.packages),
            "requirements": normalize_requirements(requirements),
            "python": self.python_version(),
        }
        return sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:32]

    def ensure(
        self, spec: ImageSpec, requirements: str | None = None, *, progress: Progress | None = None
    ) -> Environment:
        """The ready environment for ``spec`` + ``requirements``, building it first when needed."""
        key = self.key_for(spec, requirements)
        path = self.root / key
        if (path / READY_MARKER).exists():
            return self._environment(path, key)
        with open(self.root / f".{key}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if (path / READY_MARKER).exists():
                    return self._environment(path, key)
                if path.exists():
                    _say(progress, f"removing half-built environment {path}")
                    shutil.rmtree(path)
                try:
                    self._build(path, spec, requirements, progress)
                except BaseException:
                    shutil.rmtree(path, ignore_errors=True)
                    raise
                return self._environment(path, key)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def python_version(self) -> str:
        """The interpreter's implementation and version, e.g. ``CPython-3.11.7``."""
        if self._python_version is None:
            if self.python == sys.executable:
                self._python_version = f"{platform.python_implementation()}-{platform.python_version()}"
            else:
                self._python_version = _query_python_version(self.python)
        return self._python_version

    def _build(
        self, path: Path, spec: ImageSpec, requirements: str | None, progress: Progress | None
    ) -> None:
        started = time.monotonic()
        _say(progress, f"building environment {path.name} for {spec.uri}")
        common = ["--no-progress", *(["--offline"] if self.offline else [])]
        self._uv(["venv", str(path), "--python", self.python, "--no-project", *common], spec, progress)
        lines = [*spec.packages, *(requirements or "").splitlines()]
        if any(line.strip() and not line.strip().startswith("#") for line in lines):
            requirements_file = path / REQUIREMENTS_FILE
            requirements_file.write_text("\n".join(lines) + "\n")
            python = path / "bin" / "python"
            install = ["pip", "install", "--python", str(python), "-r", str(requirements_file),
                       "--link-mode", self._link(), *common]
            if self.backend is None:
                self._uv([*install, "--compile-bytecode"], spec, progress)
            else:
                self._install_sandboxed(install, spec, progress, path, "\n".join(lines))
        marker = {
            "key": path.name,
            "image": spec.uri,
            "packages": list(spec.packages),
            "built_at": time.time(),
        }
        temporary = path / f"{READY_MARKER}.tmp"
        temporary.write_text(json.dumps(marker, indent=2))
        os.replace(temporary, path / READY_MARKER)
        _say(progress, f"environment {path.name} ready in {time.monotonic() - started:.1f}s")

    def _install_sandboxed(self, install: list[str], spec: ImageSpec, progress: Progress | None, venv: Path,
                           requirements: str) -> None:
        """Install into ``venv`` so that no code a requirement ships can write to the cache later builds
        read. First wheels only, with the shared cache: installing a wheel runs none of its code (and the
        bytecode is compiled afterwards with ``site`` off and without the cache, so no ``.pth`` runs either).
        When a requirement needs a source build, its build backend (``setup.py``: user code) runs with a
        cache of its own, deleted after the build."""
        try:
            self._uv([*install, "--only-binary", ":all:"], spec, progress, venv=venv, requirements=requirements)
        except EnvironmentBuildError:
            _say(progress, "a requirement needs a source build: building with a private cache")
            private = self.root / ".uv-cache-builds" / venv.name
            shutil.rmtree(private, ignore_errors=True)
            try:
                self._uv([*install, "--compile-bytecode"], spec, progress, venv=venv, requirements=requirements,
                         cache=private)
            finally:
                shutil.rmtree(private, ignore_errors=True)
            return
        assert self.backend is not None
        result = compile_bytecode_sandboxed(self.backend, venv)
        if result.returncode not in (0, 1):  # 1: some file did not compile, which uv's own compile skips too
            details = "\n".join(f"  {line}" for line in relevant_lines(result.lines))
            raise EnvironmentBuildError(f"could not compile the environment for image {spec.uri}\n{details}",
                                        output="\n".join(result.lines))

    def _uv(self, args: list[str], spec: ImageSpec, progress: Progress | None, *, venv: Path | None = None,
            requirements: str = "", cache: Path | None = None) -> None:
        if venv is not None and self.backend is not None:
            result = run_uv_sandboxed(self.backend, self.uv, args, venv=venv, cache=cache or self._build_cache(),
                                      workspace=self.root / ".build", requirements=requirements,
                                      progress=progress)
        else:
            result = run_uv(self.uv, args, cwd=self.root, progress=progress)
        if result.returncode == 0:
            return
        requirement = failed_requirement(result.lines)
        details = "\n".join(f"  {line}" for line in relevant_lines(result.lines))
        what = f": {requirement} could not be installed" if requirement else f" (uv exit {result.returncode})"
        raise EnvironmentBuildError(
            f"could not build the environment for image {spec.uri}{what}\n{details}",
            requirement=requirement,
            output="\n".join(result.lines),
        )

    def _build_cache(self) -> Path:
        return self.root / ".uv-cache"

    def _link(self) -> str:
        if self._link_mode is None and self.backend is not None:
            self._link_mode = "copy"
        if self._link_mode is None:
            self._link_mode = "hardlink" if _same_filesystem(self._cache_dir(), self.root) else "copy"
        return self._link_mode

    def _cache_dir(self) -> Path:
        result = run_uv(self.uv, ["cache", "dir"], cwd=self.root)
        return Path(result.lines[-1].strip()) if result.returncode == 0 and result.lines else self.root

    @staticmethod
    def _environment(path: Path, key: str) -> Environment:
        return Environment(path=path, python=path / "bin" / "python", key=key)


def normalize_requirements(text: str | None) -> list[str]:
    """Requirement lines without comments, blanks and surrounding space, sorted and de-duplicated."""
    lines = set()
    for raw in (text or "").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.add(" ".join(line.split()))
    return sorted(lines)


def toolkit_pythonpath(shim_root: Path | None = None) -> str:
    """The directory to put on PYTHONPATH so a bare venv can ``import modelyard.toolkit``.

    In a source checkout that is the directory holding the ``modelyard`` package. When modelyard is
    installed in a site-packages directory (which must not leak into environments), a directory
    holding only a ``modelyard`` symlink is made under ``shim_root`` (default ``~/.cache/modelyard``).
    """
    import modelyard

    package = Path(modelyard.__file__).resolve().parent
    if package.parent.name not in ("site-packages", "dist-packages"):
        return str(package.parent)
    shim = (shim_root or Path.home() / ".cache" / "modelyard") / "toolkit-path"
    shim.mkdir(parents=True, exist_ok=True)
    link = shim / "modelyard"
    if not link.is_symlink() or link.resolve() != package:
        temporary = shim / f".modelyard.{os.getpid()}"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(package, target_is_directory=True)
        os.replace(temporary, link)
    return str(shim)


def _query_python_version(python: str) -> str:
    code = "import platform; print(platform.python_implementation() + '-' + platform.python_version())"
    try:
        output = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise EnvironmentBuildError(f"cannot run the python interpreter {python!r}: {exc}") from exc
    return output.stdout.strip()


def _same_filesystem(a: Path, b: Path) -> bool:
    def device(path: Path) -> int:
        while not path.exists() and path != path.parent:
            path = path.parent
        return path.stat().st_dev

    return device(a) == device(b)


def _say(progress: Progress | None, line: str) -> None:
    if progress is not None:
        progress(line)
