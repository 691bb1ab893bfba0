"""Finding and running ``uv``, and turning its failures into messages that name the culprit."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from modelyard.runtime.errors import EnvironmentBuildError

Progress = Callable[[str], None]

_STRIPPED_VARIABLES = ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")
_REQUIREMENT_PATTERNS = (
    re.compile(r"you require (\S+?)(?:,|\.(?:\s|$)|\s+and\s|$)", re.MULTILINE),
    re.compile(r"Because there is no version of (\S+?)(?:,|\.(?:\s|$)|\s+and\s|$)", re.MULTILINE),
    re.compile(r"Because (\S+?) was not found in the (?:package registry|cache)"),
    re.compile(r"Failed to (?:build|download|fetch|prepare|install|parse|resolve)[^`]*`([^`]+)`"),
)
_NOISE = re.compile(
    r"^(Using (CPython|Python) |Resolved |Prepared |Downloading |Downloaded |Installed |Audited |"
    r"Uninstalled |Bytecode compiled | [+-] )"
)


@dataclass(frozen=True)
class UvResult:
    """The exit status of one uv command and its last output lines."""

    returncode: int
    lines: tuple[str, ...]


def find_uv(preferred: str = "uv") -> str:
    """The uv executable: an explicit path, else ``<sys.prefix>/bin/uv``, the ``uv`` package's, PATH."""
    if preferred != "uv":
        found = shutil.which(preferred)
        if found:
            return found
        raise EnvironmentBuildError(f"uv executable {preferred!r} not found")
    candidate = Path(sys.prefix) / "bin" / "uv"
    if os.access(candidate, os.X_OK):
        return str(candidate)
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    if found:
        return found
    raise EnvironmentBuildError("uv not found: install it with `pip install uv` (a modelyard dependency)")


def run_uv(uv: str, args: Sequence[str], *, cwd: Path, progress: Progress | None = None) -> UvResult:
    """Run ``uv args`` with a clean environment, streaming each output line to ``progress``."""
    env = {k: v for k, v in os.environ.items() if k not in _STRIPPED_VARIABLES}
    env["NO_COLOR"] = "1"
    tail: deque[str] = deque(maxlen=200)
    with subprocess.Popen(
        [uv, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
    ) as process:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip("\n")
            tail.append(line)
            if progress is not None:
                progress(line)
        returncode = process.wait()
    return UvResult(returncode=returncode, lines=tuple(tail))


def failed_requirement(lines: Sequence[str]) -> str | None:
    """The requirement uv's output blames, e.g. ``nonexistent-pkg-zzz==1.0``; None when it names none."""
    text = "\n".join(lines)
    for pattern in _REQUIREMENT_PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group(1).rstrip(".,")
    return None


def relevant_lines(lines: Sequence[str], limit: int = 25) -> list[str]:
    """uv's error report: from its first ``error:`` line on, else the last non-progress lines."""
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith(("error:", "×"))), None)
    chosen = list(lines[start:]) if start is not None else [line for line in lines if not _NOISE.match(line)]
    chosen = [line for line in chosen if line.strip()]
    return chosen[-limit:]
