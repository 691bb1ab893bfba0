"""Failure reasons of jobs whose container failed, phrased as SageMaker phrases them.

    /opt/ml/output/failure holds text  ──► "AlgorithmError: <that text>"
    otherwise                           ──► "AlgorithmError: ExecuteUserScriptError:\\nExitCode 1\\n
                                             ErrorMessage \\"ValueError: bad input\\"\\nCommand \\"...\\""

The error message is the last meaningful line of the job's output (for a Python traceback, the
exception line), skipping blank lines and modelyard's own ``modelyard:`` notes.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence

MAX_REASON = 1024
OWN_PREFIX = "modelyard:"


def truncate(text: str, limit: int = MAX_REASON) -> str:
    """``text`` cut to ``limit`` characters (SageMaker's FailureReason is at most 1024)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def last_meaningful_line(lines: Iterable[str]) -> str | None:
    """The last line that is neither blank nor one of modelyard's own notes."""
    found = None
    for line in lines:
        text = line.strip()
        if text and not text.startswith(OWN_PREFIX):
            found = text
    return found


def algorithm_error(*, failure_text: str | None, exit_code: int, lines: Sequence[str],
                    command: Sequence[str]) -> str:
    """The FailureReason of a container that exited with ``exit_code`` (non-zero)."""
    if failure_text and failure_text.strip():
        return truncate(f"AlgorithmError: {failure_text.strip()}")
    message = last_meaningful_line(lines) or "the container wrote no output"
    if exit_code > 128:
        message = f"{message} (killed by signal {exit_code - 128})"
    quoted = " ".join(shlex.quote(part) for part in command)
    return truncate(f'AlgorithmError: ExecuteUserScriptError:\nExitCode {exit_code}\nErrorMessage "{message}"\n'
                    f'Command "{quoted}"')
