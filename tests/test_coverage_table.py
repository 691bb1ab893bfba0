"""The committed implementation-coverage table matches what the code implements."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_coverage_table_is_current() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "coverage_table.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
