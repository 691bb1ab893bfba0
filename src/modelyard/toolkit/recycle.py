"""Restart the serving process in place, keeping its listening sockets.

A thread stuck in user code cannot be stopped, so a single-process server whose handler thread is
stuck on an abandoned invocation replaces itself: ``exec`` of the same command, with the listening
sockets handed over by descriptor number. The process id stays (the supervisor sees no exit);
connections that arrive meanwhile wait in the listen backlog until the model is loaded again.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import MutableMapping
from typing import NoReturn

UNIX_FD = "MODELYARD_TOOLKIT_UNIX_FD"
HTTP_FD = "MODELYARD_TOOLKIT_HTTP_FD"
COMMAND = ("-m", "modelyard.toolkit", "serve")


def restart_in_place(unix: socket.socket | None, http: socket.socket | None) -> NoReturn:
    """Replace this process by a fresh ``serve`` that inherits the listening sockets."""
    env = dict(os.environ)
    for sock, name in ((unix, UNIX_FD), (http, HTTP_FD)):
        if sock is not None:
            os.set_inheritable(sock.fileno(), True)
            env[name] = str(sock.fileno())
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *COMMAND], env)


def inherited(name: str, environ: MutableMapping[str, str] | None = None) -> socket.socket | None:
    """The listening socket handed over under ``name`` by :func:`restart_in_place`, if any."""
    env: MutableMapping[str, str] = os.environ if environ is None else environ
    raw = env.pop(name, None)
    if not raw or not raw.isdigit():
        return None
    sock = socket.socket(fileno=int(raw))
    os.set_inheritable(sock.fileno(), False)
    sock.setblocking(False)
    return sock


