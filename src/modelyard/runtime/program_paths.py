"""The host directories a container's program needs that the sandbox's private ``/tmp`` would hide.

A checkout, its ``.venv`` or a venv's base interpreter may live under the host's ``/tmp`` (a clone in
``/tmp``, a test's data dir). The sandbox mounts a fresh tmpfs there, so those directories are bound
back read-only at the same path, and nothing else of the host's ``/tmp``::

    /tmp/clone/.venv/bin/python   ──►  /tmp/clone/.venv        the venv (or the program's directory)
        └─ symlink to /tmp/py/bin/python3.11 ──►  /tmp/py       the interpreter's prefix
    .venv/lib/python3.X/site-packages/*.pth ──►  /tmp/clone/src  source an editable install imports
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_TMP = "/tmp"


def under_private_tmp(path: Path | str) -> bool:
    """True when ``path`` lies in the host's /tmp, which the sandbox replaces with its own."""
    return (os.path.normpath(str(path)) + "/").startswith(PRIVATE_TMP + "/")


def hidden_program_paths(program: str) -> list[str]:
    """Directories under /tmp that the absolute ``program`` needs to run: its venv (else its own
    directory), the prefix of the interpreter it links to, and the directories the venv's ``.pth``
    files add to ``sys.path``. Empty for a program named by a bare command."""
    if not os.path.isabs(program):
        return []
    path = Path(os.path.normpath(program))
    venv = _venv_root(path)
    found = [venv or path.parent]
    real = Path(os.path.realpath(path))
    if real != path:
        found.append(_venv_root(real) or (real.parent.parent if real.parent.name == "bin" else real.parent))
    if venv is not None:
        found += _pth_directories(venv)
    unique = dict.fromkeys(str(p) for p in found if under_private_tmp(p))
    return [p for p in unique if not any(_within(p, other) for other in unique if other != p)]


def _venv_root(program: Path) -> Path | None:
    root = program.parent.parent
    return root if program.parent.name == "bin" and (root / "pyvenv.cfg").is_file() else None


def _pth_directories(venv: Path) -> list[Path]:
    directories = []
    for pth in sorted(venv.glob("lib/python*/site-packages/*.pth")):
        try:
            lines = pth.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        directories += [Path(line.strip()) for line in lines if line.startswith("/") and Path(line.strip()).is_dir()]
    return directories


def _within(path: str, root: str) -> bool:
    return path.startswith(root.rstrip("/") + "/")
