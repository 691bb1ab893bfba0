"""Tool venvs of the benchmarks: packages a benchmark runs that the project's own venv does not hold,
installed with uv into the bench cache (``MODELYARD_BENCH_CACHE``, default ~/.cache/modelyard-bench)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from modelyard.runtime.uvtool import find_uv

CACHE = Path(os.environ.get("MODELYARD_BENCH_CACHE", Path.home() / ".cache" / "modelyard-bench"))


def tool_python(name: str, packages: tuple[str, ...]) -> Path:
    """The python of the tool venv ``name`` holding ``packages``, built with uv on first use (a stamp file
    names what it holds, so a changed list builds it again)."""
    venv = CACHE / name
    python = venv / "bin" / "python"
    stamp = venv / ".bench-packages"
    if python.exists() and stamp.exists() and stamp.read_text() == "\n".join(packages):
        return python
    uv = find_uv()
    print(f"building the tool venv {venv} ({', '.join(packages)}) with uv ...", flush=True)
    subprocess.run([uv, "venv", "-q", "--clear", "--python", sys.executable, str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(python), *packages], check=True)
    stamp.write_text("\n".join(packages))
    return python
