"""The container seccomp filter: user namespaces refused, everything else (threads included) allowed."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from modelyard.runtime import ProcessBackend
from modelyard.runtime.seccomp import no_new_user_namespaces
from tests.runtime.conftest import last_json, python_spec, run_to_end

ATTEMPTS = r"""
import ctypes, errno, json, os, threading, subprocess
libc = ctypes.CDLL(None, use_errno=True)
def in_child(call):
    child = os.fork()
    if child == 0:
        os._exit(0 if call() == 0 else 100 + ctypes.get_errno())
    code = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
    return "ok" if code == 0 else errno.errorcode.get(code - 100, str(code))
out = {
    "unshare_user": in_child(lambda: libc.unshare(0x10000000)),
    "unshare_mount": in_child(lambda: libc.unshare(0x00020000)),
    "clone3": in_child(lambda: libc.syscall(435, None, 0)),
}
box = []
thread = threading.Thread(target=lambda: box.append("ran"))
thread.start(); thread.join()
out["thread"] = box
out["subprocess"] = subprocess.run(["true"]).returncode
out["unshare_command"] = subprocess.run(["unshare", "-Ur", "true"], capture_output=True).returncode
print(json.dumps(out))
"""


def test_the_program_is_known_for_this_machine() -> None:
    program = no_new_user_namespaces()
    if platform.machine() in ("x86_64", "aarch64"):
        assert program is not None and len(program) == 14 * 8
    assert no_new_user_namespaces("sparc64") is None


def test_a_container_makes_no_user_namespace_but_threads_and_processes_work(
    sandboxed_backend: ProcessBackend, tmp_path: Path
) -> None:
    if no_new_user_namespaces() is None:
        pytest.skip(f"no seccomp filter for {platform.machine()}")
    code, log = run_to_end(sandboxed_backend, python_spec(tmp_path, ATTEMPTS))
    assert code == 0, log
    seen = last_json(log)
    assert seen["unshare_user"] in ("EPERM", "ENOSPC"), seen  # ENOSPC: bwrap's --disable-userns (normal user)
    assert seen["unshare_command"] != 0, seen
    assert seen["clone3"] == "ENOSYS", seen
    assert seen["unshare_mount"] == "EPERM", seen  # no capability for it, filter or not
    assert seen["thread"] == ["ran"] and seen["subprocess"] == 0, seen
