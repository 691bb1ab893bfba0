"""``uv pip install`` of a requirements file inside the sandbox: sdists' setup.py is user code.

The build runs like any container (``process.ProcessBackend``): an unprivileged uid with no
capabilities, the minimal view, the user-mode network (PyPI reachable, the host's loopback not),
and an environment made only of ``ALLOWED_VARIABLES`` — never AWS_* or MODELYARD_* or the server's
other secrets. It can write only the environment being built and the builder's own uv cache
(``<envs>/.uv-cache``, shared by builds, so a build could leave a poisoned wheel there for a later
build; never the host's). Local files named in the requirements (``/abs/path``, ``file:///abs/path``)
are bound read-only.
"""

from __future__ import annotations

import os
import re
from collections import deque
from pathlib import Path

from modelyard.runtime.limits import GIB, Limits
from modelyard.runtime.process import ContainerSpec, ProcessBackend
from modelyard.runtime.program_paths import program_paths
from modelyard.runtime.uvtool import Progress, UvResult

ALLOWED_VARIABLES = (
    "LANG", "LC_ALL", "TZ", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX",
    "UV_FIND_LINKS", "UV_NATIVE_TLS", "UV_HTTP_TIMEOUT", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
    "no_proxy",
)  # fmt: skip
BUILD_LIMITS = Limits(memory_bytes=8 * GIB, processes=512, file_bytes=16 * GIB, tmp_bytes=4 * GIB)
_LOCAL_PATH = re.compile(r"(?:file://)?(/[^\s;#]+)")


def build_environment_variables(cache: Path) -> dict[str, str]:
    """The whole environment a sandboxed build gets."""
    env = {name: os.environ[name] for name in ALLOWED_VARIABLES if name in os.environ}
    env.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "NO_COLOR": "1",
                "UV_CACHE_DIR": str(cache), "UV_NO_CONFIG": "1"})
    return env


def local_requirement_paths(requirements: str) -> list[str]:
    """Existing absolute paths named in a requirements text."""
    found = []
    for line in requirements.splitlines():
        for match in _LOCAL_PATH.finditer(line.split(" #", 1)[0]):
            path = os.path.normpath(match.group(1))
            if os.path.exists(path):
                found.append(path)
    return found


def run_uv_sandboxed(backend: ProcessBackend, uv: str, args: list[str], *, venv: Path, cache: Path,
                     workspace: Path, requirements: str, progress: Progress | None = None) -> UvResult:
    """Run ``uv args`` for the environment ``venv`` in the sandbox; ``workspace`` is the build's
    /opt/ml (one per builder, so every build runs as the same uid and keeps the cache its own)."""
    cache.mkdir(parents=True, exist_ok=True)
    spec = ContainerSpec(argv=[uv, *args], opt_ml=workspace, env=build_environment_variables(cache),
                         binds=[(venv, str(venv), True), (cache, str(cache), True)], capture_output=True,
                         name=f"build/{venv.name}", limits=BUILD_LIMITS, workdir=venv)
    return _run(backend, spec, venv, local_requirement_paths(requirements), progress)


def compile_bytecode_sandboxed(backend: ProcessBackend, venv: Path) -> UvResult:
    """Byte-compile ``venv``'s packages in the sandbox with ``site`` off (no ``.pth`` file runs) and
    without any uv cache bound: nothing a package ships runs, and the cache is out of reach."""
    argv = [str(venv / "bin" / "python"), "-I", "-S", "-m", "compileall", "-q", "-j", "0", str(venv / "lib")]
    spec = ContainerSpec(argv=argv, opt_ml=venv.parent / ".build", env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
                         binds=[(venv, str(venv), True)], capture_output=True, name=f"compile/{venv.name}",
                         limits=BUILD_LIMITS, workdir=venv)
    return _run(backend, spec, venv, [], None)


def _run(backend: ProcessBackend, spec: ContainerSpec, venv: Path, extra_paths: list[str],
         progress: Progress | None) -> UvResult:
    """Start ``spec`` with ``venv``'s interpreter (and ``extra_paths``) bound read-only; its exit status
    and last 200 output lines, each passed to ``progress`` as it comes."""
    needed = [p for p in program_paths(str(venv / "bin" / "python")) if p != str(venv)] + extra_paths
    spec.ro_binds += [(path, path) for path in dict.fromkeys(needed) if os.path.exists(path)]
    process = backend.start(spec)
    tail: deque[str] = deque(maxlen=200)
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.decode(errors="replace").rstrip("\n")
        tail.append(line)
        if progress is not None:
            progress(line)
    code = process.wait()
    return UvResult(returncode=code if code is not None else -1, lines=tuple(tail))
