"""What a sandboxed process can see of the host: the runtime it executes and its own /opt/ml only."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from modelyard.runtime import ContainerSpec, ProcessBackend

from ..runtime.conftest import last_json, run_to_end

LOOK = r"""
import errno, json, os, sys
out = {}
for path in sys.argv[1:]:
    try:
        if os.path.isdir(path):
            out[path] = sorted(os.listdir(path))
        else:
            open(path, "rb").read(1)
            out[path] = "readable"
    except OSError as exc:
        out[path] = errno.errorcode.get(exc.errno, str(exc.errno))
print(json.dumps(out))
"""

SECRET_PATHS = ["/root", "/home", "/root/.aws", "/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/run",
                "/var/run", "/var/run/postgresql", "/var", "/srv", "/mnt", "/sys", "/etc/ssh"]


def test_host_secrets_and_other_directories_are_absent(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "instances" / "other" / "opt_ml").mkdir(parents=True)
    (data_dir / "modelyard.db").write_text("secrets of every model")
    (data_dir / "sock" / "other").mkdir(parents=True)
    mine = data_dir / "instances" / "mine" / "opt_ml"
    mine.mkdir(parents=True)
    spec = ContainerSpec(argv=[sys.executable, "-c", LOOK], opt_ml=mine, stdout_path=tmp_path / "log")
    targets = [*SECRET_PATHS, str(data_dir), str(data_dir / "modelyard.db"), str(data_dir / "sock"),
               str(data_dir / "instances" / "other"), str(Path.home() / ".aws")]
    spec.argv += targets
    code, log = run_to_end(sandboxed_backend, spec)
    assert code == 0, log
    seen = last_json(log)
    leaked = {path: result for path, result in seen.items() if not _refused_or_runtime(path, result)}
    assert leaked == {}, leaked
    assert seen["/etc/shadow"] == "ENOENT" and seen[str(data_dir / "modelyard.db")] == "ENOENT"


def test_the_view_is_the_runtime_only(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    code_text = (
        "import json, os\n"
        "print(json.dumps({'root': sorted(os.listdir('/')), 'opt_ml': os.access('/opt/ml', os.W_OK),"
        " 'tmp': os.access('/tmp', os.W_OK), 'shm': os.access('/dev/shm', os.W_OK)}))\n"
    )
    opt_ml = tmp_path / "opt_ml"
    spec = ContainerSpec(argv=[sys.executable, "-c", code_text], opt_ml=opt_ml, stdout_path=tmp_path / "log")
    code, log = run_to_end(sandboxed_backend, spec)
    assert code == 0, log
    seen = last_json(log)
    host_top = set(os.listdir("/"))
    expected = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "dev", "proc", "tmp", "opt"}
    program_tops = {Path(p).parts[1] for p in _program_roots()}
    assert set(seen["root"]) <= (expected & host_top) | {"dev", "proc", "tmp", "opt", "etc"} | program_tops
    assert seen["opt_ml"] and seen["tmp"] and seen["shm"]


def _refused_or_runtime(path: str, result: object) -> bool:
    """The probe was refused, or it listed a directory that holds nothing but the way to the program's
    own runtime (the interpreter may live under /root, as pyenv's does)."""
    if isinstance(result, str):
        return result != "readable"
    assert isinstance(result, list)
    needed = {str(Path(p).relative_to(path)).split("/")[0] for p in _program_roots() if p.startswith(path + "/")}
    return set(result) <= needed


def _program_roots() -> list[str]:
    from modelyard.runtime.program_paths import program_paths

    return program_paths(sys.executable)
