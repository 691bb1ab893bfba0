"""Which host directories under /tmp a program needs in the sandbox: its venv, its interpreter, .pth sources."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.runtime.program_paths import hidden_program_paths, under_private_tmp


@pytest.fixture()
def tmp_root() -> Iterator[Path]:
    """A directory surely under /tmp (pytest's own base directory may be elsewhere)."""
    root = Path(tempfile.mkdtemp(prefix="modelyard-paths-", dir="/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _venv(root: Path, python: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "pyvenv.cfg").write_text(f"home = {python.parent}\n")
    (root / "bin" / "python").symlink_to(python)
    return root / "bin" / "python"


def test_under_private_tmp() -> None:
    assert under_private_tmp("/tmp/x") and under_private_tmp("/tmp") and under_private_tmp("/tmp/../tmp/y")
    assert not under_private_tmp("/tmpfoo/x") and not under_private_tmp("/var/tmp/x")


def test_venv_interpreter_and_pth_sources_are_found(tmp_root: Path) -> None:
    interpreter = tmp_root / "python-3" / "bin" / "python3"
    interpreter.parent.mkdir(parents=True)
    interpreter.touch()
    program = _venv(tmp_root / "clone" / ".venv", interpreter)
    site = tmp_root / "clone" / ".venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (tmp_root / "clone" / "src").mkdir()
    (site / "_editable.pth").write_text(f"{tmp_root / 'clone' / 'src'}\nimport os\n/nonexistent/dir\n")
    assert hidden_program_paths(str(program)) == [
        str(tmp_root / "clone" / ".venv"), str(tmp_root / "python-3"), str(tmp_root / "clone" / "src")]


def test_plain_program_reveals_its_directory_only(tmp_root: Path) -> None:
    program = tmp_root / "tools" / "run"
    program.parent.mkdir()
    program.touch()
    assert hidden_program_paths(str(program)) == [str(tmp_root / "tools")]


def test_nested_paths_collapse_into_the_outer_one(tmp_root: Path) -> None:
    program = _venv(tmp_root / "venv", Path("/usr/bin/python3"))
    site = tmp_root / "venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "inner.pth").write_text(f"{site}\n")
    assert hidden_program_paths(str(program)) == [str(tmp_root / "venv")]


@pytest.mark.parametrize("program", ["python", "/usr/bin/python3", "relative/bin/python"])
def test_programs_outside_tmp_need_nothing(program: str) -> None:
    assert hidden_program_paths(program) == []
