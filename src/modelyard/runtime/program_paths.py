"""The host directories a container's program needs, bound read-only at the same path in the sandbox.

The sandbox's root holds only the system directories (``view``), so a program's venv, the
interpreter it links to and the source its ``.pth`` files import are bound back read-only, wherever
they live — under ``/root``, a checkout, or the host's ``/tmp`` (which the sandbox replaces with its
own, so nothing else of it is seen)::

    /tmp/clone/.venv/bin/python   ──►  /tmp/clone/.venv        the venv (or the program's directory)
        └─ symlink to /tmp/py/bin/python3.11 ──►  /tmp/py       the interpreter's prefix
    .venv/lib/python3.X/site-packages/*.pth ──►  /tmp/clone/src  source an editable install imports
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

PRIVATE_TMP = "/tmp"


def under_private_tmp(path: Path | str) -> bool:
    """True when ``path`` lies in the host's /tmp, which the sandbox replaces with its own."""
    return (os.path.normpath(str(path)) + "/").startswith(PRIVATE_TMP + "/")


SYSTEM_PREFIXES = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")


def hidden_program_paths(program: str) -> list[str]:
    """Of ``program_paths``, those under the host's /tmp."""
    return _outermost(p for p in program_paths(program) if under_private_tmp(p))


def program_paths(program: str) -> list[str]:
    """Directories the absolute ``program`` needs to run, outside the system directories: its venv
    (else its own directory), the prefix of the interpreter it links to, and the directories the
    venv's ``.pth`` files add to ``sys.path``. Empty for a program named by a bare command."""
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
    return _outermost(str(p) for p in found if not _system(str(p)))


def environment_paths(directory: Path | str) -> list[str]:
    """What a venv (or any other directory) needs besides itself: for a venv, its interpreter's
    prefix and ``.pth`` sources; the directory itself first."""
    root = Path(os.path.normpath(str(directory)))
    python = root / "bin" / "python"
    if (root / "pyvenv.cfg").is_file() and python.exists():
        return _outermost([str(root), *program_paths(str(python))])
    return [str(root)]


def _system(path: str) -> bool:
    return any(path == prefix or _within(path, prefix) for prefix in SYSTEM_PREFIXES)


def _outermost(paths: Iterable[str]) -> list[str]:
    unique = dict.fromkeys(paths)
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
