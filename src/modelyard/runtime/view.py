"""What of the host a sandboxed process sees: the runtime it executes, and nothing else.

The sandbox's root is an empty tmpfs (made read-only at the end), into which only these are bound::

    /usr  (and /bin /sbin /lib* as the host has them: symlinks stay symlinks)   read-only
    /etc  an allow-list: name resolution, TLS certificates, the dynamic loader's cache, time zone,
          alternatives, Java's runtime configuration; a passwd and group of its own naming only
          root and the sandbox user
          (never the host's shadow, sudoers, ssh keys or machine secrets)
    the program's paths (its venv, interpreter prefix, imported source) — added by the caller

Everything else — the data dir, other instances, /root, /home, /run, /var, /srv, /mnt — is absent.
"""

from __future__ import annotations

import fnmatch
import os

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_ALLOWED = (
    "alternatives", "ca-certificates", "ca-certificates.conf", "debian_version", "gai.conf", "host.conf",
    "hosts", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "mime.types", "nsswitch.conf",
    "os-release", "protocols", "resolv.conf", "services", "ssl", "timezone", "pki", "crypto-policies",
    "java-*", "fonts", "mailcap", "magic", "magic.mime", "xdg",
)  # fmt: skip
GENERATED_ETC = ("passwd", "group")


def system_options() -> list[str]:
    """bwrap options exposing the host's system directories read-only (symlinks as symlinks)."""
    options: list[str] = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            options += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            options += ["--ro-bind", path, path]
    return options


def etc_entries() -> list[str]:
    """The host's /etc entries a sandbox may see, those that exist."""
    try:
        names = sorted(os.listdir("/etc"))
    except OSError:
        return []
    return [f"/etc/{name}" for name in names if etc_allowed(f"/etc/{name}")]


def etc_allowed(path: str) -> bool:
    """Whether the host path ``path`` (an /etc entry) is one the sandbox may see."""
    name = os.path.basename(path)
    return os.path.dirname(path) == "/etc" and any(fnmatch.fnmatchcase(name, allowed) for allowed in ETC_ALLOWED)


def passwd_text(uid: int, gid: int) -> str:
    """The sandbox's /etc/passwd: root and the sandbox user, home /tmp."""
    lines = ["root:x:0:0:root:/root:/usr/sbin/nologin"]
    if uid != 0:
        lines.append(f"model:x:{uid}:{gid}:model:/tmp:/bin/sh")
    return "\n".join(lines) + "\n"


def group_text(gid: int) -> str:
    """The sandbox's /etc/group: root and the sandbox user's group."""
    lines = ["root:x:0:"]
    if gid != 0:
        lines.append(f"model:x:{gid}:")
    return "\n".join(lines) + "\n"
