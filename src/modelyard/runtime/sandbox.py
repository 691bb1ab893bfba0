"""The bubblewrap (``bwrap``) command line that turns a process into a SageMaker-like container.

Inside the sandbox::

    /            host root, read-only (venvs and the toolkit source are visible, not writable)
    /dev /proc   fresh; the process sees only its own pid namespace
    /tmp         private tmpfs
    /opt         read-only tmpfs re-exposing the host's /opt entries, with
    /opt/ml      the container's own host directory, writable
    + binds      extra (host, inside, writable) mounts, e.g. a unix-socket directory at the same path
    network      the host's, or only a private loopback with --unshare-net

and it dies with its parent (``--die-with-parent``) in a new session (``--new-session``).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

OPT_ML = "/opt/ml"


@dataclass(frozen=True)
class Mount:
    """One bind mount: ``host`` appears at ``inside``."""

    host: str
    inside: str
    writable: bool


def find_bwrap() -> str | None:
    """The bwrap executable, or None when it is not installed."""
    if os.access("/usr/bin/bwrap", os.X_OK):
        return "/usr/bin/bwrap"
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=4)
def bwrap_problem(bwrap: str) -> str | None:
    """Why ``bwrap`` cannot sandbox here (its own words), or None when a trial sandbox ran fine."""
    argv = [
        bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
        "--tmpfs", "/opt", "--unshare-pid", "--unshare-ipc", "--unshare-net", "--die-with-parent",
        "--new-session", "true",
    ]  # fmt: skip
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{bwrap} could not be run: {exc}"
    if result.returncode != 0:
        detail = result.stderr.strip() or f"exit status {result.returncode}"
        return f"{bwrap} failed a trial run: {detail}"
    return None


def bwrap_argv(
    bwrap: str,
    argv: Sequence[str],
    *,
    opt_ml: Path,
    mounts: Sequence[Mount] = (),
    workdir: str = OPT_ML,
    network_isolated: bool = False,
    info_fd: int | None = None,
) -> list[str]:
    """The full ``bwrap … -- argv`` command line for one container."""
    command = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    command += ["--tmpfs", "/opt", *_host_opt_entries()]
    command += ["--bind", str(opt_ml), OPT_ML]
    for mount in sorted(mounts, key=lambda m: (m.inside.count("/"), m.inside)):
        command += ["--bind" if mount.writable else "--ro-bind", mount.host, mount.inside]
    command += ["--remount-ro", "/opt"]
    command += ["--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session"]
    if network_isolated:
        command.append("--unshare-net")
    command += ["--chdir", workdir]
    if info_fd is not None:
        command += ["--info-fd", str(info_fd)]
    return [*command, "--", *argv]


def _host_opt_entries() -> list[str]:
    options: list[str] = []
    try:
        names = sorted(os.listdir("/opt"))
    except OSError:
        return options
    for name in names:
        path = f"/opt/{name}"
        if path == OPT_ML:
            continue
        if os.path.islink(path):
            options += ["--symlink", os.readlink(path), path]
        else:
            options += ["--ro-bind", path, path]
    return options
