"""The seccomp filter every container runs under: no new user namespaces.

A process that creates a user namespace holds every capability inside it, and that namespace is
where most kernel privilege escalations start; a sandboxed model, script or build never needs one.
A normal-user server already runs bwrap with ``--disable-userns``; a root server switches to the
container's uid with ``setpriv`` and has no user namespace to disable them in, so the filter is what
refuses them there. It answers:

- ``unshare`` and ``clone`` with ``CLONE_NEWUSER`` → ``EPERM``;
- ``clone3`` → ``ENOSYS`` (its flags sit in a struct a filter cannot read; glibc then uses ``clone``);
- a system call of another ABI (i386 or x32 on x86-64) → ``ENOSYS``, so none of the above is
  reachable by other numbers.

Everything else is allowed. The program is classic BPF (``struct sock_filter``), handed to bwrap with
``--seccomp FD``; bwrap installs it after no-new-privileges, right before the program runs.
"""

from __future__ import annotations

import errno
import functools
import logging
import platform
import struct

logger = logging.getLogger("modelyard.runtime")

CLONE_NEWUSER = 0x10000000
X32_SYSCALL_BIT = 0x40000000

_LD_W_ABS = 0x20
_JEQ = 0x15
_JSET = 0x45
_RET = 0x06
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
_NR, _ARCH, _ARG0_LOW = 0, 4, 16

_SYSCALLS = {
    "x86_64": (0xC000003E, {"unshare": 272, "clone": 56, "clone3": 435}),
    "aarch64": (0xC00000B7, {"unshare": 97, "clone": 220, "clone3": 435}),
}


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def no_new_user_namespaces(machine: str | None = None) -> bytes | None:
    """The filter program for this machine's architecture; None where its system call numbers are not
    known here (the container then runs without it, and the server says so)."""
    found = _SYSCALLS.get(machine or platform.machine())
    if found is None:
        return None
    arch, numbers = found
    enosys, eperm = _ERRNO | errno.ENOSYS, _ERRNO | errno.EPERM
    return b"".join([
        _op(_LD_W_ABS, _ARCH),                      # 0
        _op(_JEQ, arch, jt=1),                      # 1: native ABI → 3
        _op(_RET, enosys),                          # 2
        _op(_LD_W_ABS, _NR),                        # 3
        _op(_JSET, X32_SYSCALL_BIT, jf=1),          # 4: x32 → 5, else 6
        _op(_RET, enosys),                          # 5
        _op(_JEQ, numbers["clone3"], jf=1),         # 6: clone3 → 7, else 8
        _op(_RET, enosys),                          # 7
        _op(_JEQ, numbers["unshare"], jt=1),        # 8: unshare → 10, else 9
        _op(_JEQ, numbers["clone"], jf=3),          # 9: clone → 10, else 13
        _op(_LD_W_ABS, _ARG0_LOW),                  # 10: the flags
        _op(_JSET, CLONE_NEWUSER, jf=1),            # 11: CLONE_NEWUSER → 12, else 13
        _op(_RET, eperm),                           # 12
        _op(_RET, _ALLOW),                          # 13
    ])


@functools.lru_cache(maxsize=1)
def container_filter() -> bytes | None:
    """The program every container gets (built once); None, said once in the log, where unknown."""
    program = no_new_user_namespaces()
    if program is None:
        logger.warning("no seccomp filter for the %s architecture: containers of a root server may create "
                       "user namespaces", platform.machine())
    return program
