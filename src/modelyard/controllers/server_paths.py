"""FailureReasons and modelyard's own log lines never show where the server keeps its files.

    "<data dir>/artifacts/tmp/3f.../artifact is corrupt"  ->  "the server's artifact cache is corrupt"
    "<data dir>/envs/ab12.../lib/x.so: not found"         ->  "the model's environment: not found"
    "<data dir>/envs/ab12.../bin/python train.py"         ->  "python train.py"   (a program by its name)

Any path under the data directory (as configured or as its real path) becomes a neutral name of the
area it lies in; a user's own URIs and paths are left as they are.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

AREAS = {
    "artifacts": "the server's artifact cache",
    "envs": "the model's environment",
    "jobs": "the job's workspace",
    "instances": "the instance's directory",
    "sock": "the instance's socket directory",
    "logs": "the server's log store",
    "images": "the server's image registry",
}
DATA_DIR = "the server's data directory"


class ServerPaths:
    """Replaces host paths of the server's own files in a text by neutral names."""

    def __init__(self, data_dir: Path | None) -> None:
        """``data_dir`` None: nothing to hide (texts pass unchanged)."""
        self._pattern: re.Pattern[str] | None = None
        if data_dir is not None:
            roots = sorted({str(data_dir), os.path.realpath(data_dir)}, key=len, reverse=True)
            alternatives = "|".join(re.escape(root.rstrip("/")) for root in roots)
            self._pattern = re.compile(rf"(?:file://)?(?:{alternatives})(?P<rest>/[^\s'\"`,;:()\[\]{{}}]*)?")

    def neutral(self, text: str) -> str:
        """``text`` with every server path replaced by the name of its area."""
        return text if self._pattern is None else self._pattern.sub(self._name, text)

    def neutral_or_none(self, text: str | None) -> str | None:
        """:meth:`neutral` of ``text``, passing None through."""
        return None if text is None else self.neutral(text)

    @staticmethod
    def _name(match: re.Match[str]) -> str:
        parts = (match.group("rest") or "").strip("/").split("/")
        if len(parts) == 4 and parts[0] == "envs" and parts[2] == "bin":
            return parts[3]
        return AREAS.get(parts[0], DATA_DIR)
