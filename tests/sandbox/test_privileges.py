"""Escape attempts against the process sandbox's privileges: each must fail and leave the host unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelyard.runtime import ProcessBackend

from ..runtime.conftest import last_json, python_spec, run_to_end

ATTEMPTS = r"""
import ctypes, ctypes.util, errno, json, os, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
def status(field, pid="self"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return line.split()[1]
def run(argv):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except FileNotFoundError as exc:
        return "missing"
    return done.returncode
def errno_of(call):
    try:
        call()
        return "ok"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
out = {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "cap_eff": status("CapEff"),
       "cap_prm": status("CapPrm"), "cap_bnd": status("CapBnd"), "no_new_privs": status("NoNewPrivs")}
out["setuid0"] = errno_of(lambda: os.setuid(0))
out["setgid0"] = errno_of(lambda: os.setgid(0))
out["remount_rw"] = run(["mount", "-o", "remount,bind,rw", "/"])
out["remount_usr"] = run(["mount", "-o", "remount,bind,rw", "/usr"])
out["umount_proc"] = run(["umount", "/proc"])
out["umount_lazy"] = run(["umount", "-l", "/proc"])
out["mount_tmpfs"] = run(["mount", "-t", "tmpfs", "none", "/opt/ml"])
out["nested_userns_write"] = run(["unshare", "-Urm", "sh", "-c",
    "mount -o remount,bind,rw /usr 2>/dev/null || mount -o remount,rw / 2>/dev/null; "
    "echo x > /usr/modelyard-escape"])
out["pid1_environ"] = errno_of(lambda: open("/proc/1/environ").read())
out["pid1"] = {field: status(field, 1) for field in ("Uid", "CapEff", "CapPrm", "CapBnd", "CapAmb")}
CLONE_NEWUSER = 0x10000000
child = os.fork()
if child == 0:
    os._exit(0 if libc.unshare(CLONE_NEWUSER) == 0 else 100 + ctypes.get_errno())
code = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
out["unshare_user"] = "ok" if code == 0 else errno.errorcode.get(code - 100, str(code))
out["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
out["write_usr"] = errno_of(lambda: open("/usr/modelyard-escape", "w").write("x"))
out["write_root"] = errno_of(lambda: open("/modelyard-escape", "w").write("x"))
# ptrace the sandbox's pid 1 (the only process not ours in view)
PTRACE_SEIZE = 0x4206
result = libc.ptrace(PTRACE_SEIZE, 1, None, None)
out["ptrace_pid1"] = "ok" if result == 0 else errno.errorcode.get(ctypes.get_errno(), "?")
for target in sys.argv[1:]:
    pid = int(target)
    result = libc.ptrace(PTRACE_SEIZE, pid, None, None)
    out[f"ptrace_{pid}"] = "ok" if result == 0 else errno.errorcode.get(ctypes.get_errno(), "?")
    out[f"kill_{pid}"] = errno_of(lambda: os.kill(pid, 0))
out["ip_route"] = run(["ip", "route", "add", "10.123.45.0/24", "dev", "lo"])
# the route change through netlink directly: RTM_NEWROUTE needs CAP_NET_ADMIN
import socket, struct
try:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    rtmsg = struct.pack("BBBBBBBBI", socket.AF_INET, 24, 0, 0, 254, 3, 0, 1, 0)
    dst = struct.pack("HH4s", 8, 1, bytes([10, 123, 46, 0]))
    oif = struct.pack("HHI", 8, 4, 1)
    body = rtmsg + dst + oif
    header = struct.pack("IHHII", 16 + len(body), 24, 0x1 | 0x4 | 0x400 | 0x200, 1, 0)
    sock.send(header + body)
    reply = sock.recv(4096)
    code = struct.unpack("i", reply[16:20])[0]
    out["netlink_route"] = "ok" if code == 0 else errno.errorcode.get(-code, str(code))
except OSError as exc:
    out["netlink_route"] = errno.errorcode.get(exc.errno, str(exc.errno))
print(json.dumps(out))
"""


def _routes() -> str:
    return subprocess.run(["ip", "route", "show", "table", "all"], capture_output=True, text=True).stdout


def _mounts() -> str:
    return Path("/proc/self/mountinfo").read_text()


@pytest.mark.parametrize("network_isolated", [False, True])
def test_no_capabilities_and_every_privileged_escape_fails(
    sandboxed_backend: ProcessBackend, tmp_path: Path, network_isolated: bool
) -> None:
    routes, mounts = _routes(), _mounts()
    outside = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        spec = python_spec(tmp_path, ATTEMPTS, network_isolated=network_isolated)
        spec.argv += [str(outside.pid), str(os.getpid())]
        code, log = run_to_end(sandboxed_backend, spec)
    finally:
        outside.kill()
        outside.wait()
    assert code == 0, log
    seen = last_json(log)
    assert seen["uid"] != 0 and seen["euid"] != 0 and seen["gid"] != 0, seen
    assert seen["cap_eff"] == seen["cap_prm"] == seen["cap_bnd"] == "0000000000000000", seen
    assert seen["no_new_privs"] == "1"
    if os.geteuid() == 0:
        assert seen["setuid0"] == "EPERM" and seen["setgid0"] == "EPERM"
        assert seen["pid1_environ"] in ("EACCES", "EPERM"), seen
        assert seen["ptrace_pid1"] == "EPERM", seen
        assert seen["unshare_user"] == "EPERM", "the seccomp filter refuses a nested user namespace"
    else:
        _assert_pid1_is_as_powerless(seen)
    for attempt in ("remount_rw", "remount_usr", "umount_proc", "umount_lazy", "mount_tmpfs", "ip_route"):
        assert seen[attempt] not in (0, "missing"), (attempt, seen)
    assert seen["nested_userns_write"] not in (0, "missing"), "a nested user namespace must not unlock the view"
    assert seen["netlink_route"] in ("EPERM", "EACCES"), seen
    assert seen["write_usr"] in ("EROFS", "EACCES") and seen["write_root"] in ("EROFS", "EACCES")
    for pid in (outside.pid, os.getpid()):
        assert seen[f"ptrace_{pid}"] in ("ESRCH", "EPERM") and seen[f"kill_{pid}"] in ("ESRCH", "EPERM")
    assert 1 in seen["pids"] and len(seen["pids"]) < 10, "the sandbox sees only its own processes"
    assert _routes() == routes
    assert _mounts() == mounts
    assert not Path("/usr/modelyard-escape").exists() and not Path("/modelyard-escape").exists()


def _assert_pid1_is_as_powerless(seen: dict[str, object]) -> None:
    """A normal-user server's sandbox: uid 0 does not exist in its user namespace, no nested user namespace
    can be made (``--disable-userns``), and pid 1 (bwrap's reaper) is the program's own uid with no
    capability and the container's own environment, so reaching it (it is traceable) gains nothing."""
    assert seen["setuid0"] in ("EPERM", "EINVAL") and seen["setgid0"] in ("EPERM", "EINVAL"), seen
    assert seen["unshare_user"] in ("ENOSPC", "EPERM", "EUSERS"), "no nested user namespace"
    pid1 = seen["pid1"]
    assert isinstance(pid1, dict)
    assert pid1["Uid"] == str(seen["uid"]), pid1
    assert {pid1[field] for field in ("CapEff", "CapPrm", "CapBnd", "CapAmb")} == {"0000000000000000"}, pid1


def test_the_servers_environment_is_not_readable(
    sandboxed_backend: ProcessBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "server-secret-do-not-leak")
    code_text = (
        "import json, os\n"
        "found = []\n"
        "for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit():\n"
        "        try:\n"
        "            found.append(open(f'/proc/{pid}/environ', 'rb').read().decode(errors='replace'))\n"
        "        except OSError:\n"
        "            pass\n"
        "print(json.dumps({'environs': found, 'mine': dict(os.environ)}))\n"
    )
    code, log = run_to_end(sandboxed_backend, python_spec(tmp_path, code_text))
    assert code == 0, log
    assert "server-secret-do-not-leak" not in log
    assert "AWS_SECRET_ACCESS_KEY" not in json.loads(log.splitlines()[-1])["mine"]
