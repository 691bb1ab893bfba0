"""A worker process of the pool (``python -m modelyard.toolkit worker <fd>``).

It loads the model on its handler thread, sends a ``{"op": "ready"}`` frame on the inherited socketpair,
then serves the connections the parent passes it (``pool``): frames or HTTP, each on this process's
own event loop with the handler thread behind it, as a single-process toolkit serves its own. When one
of them closes it sends ``{"op": "closed"}``. SIGTERM: take no more connections, let the calls in flight
finish (up to ``DRAIN_SECONDS``), exit 0; the parent's end sends it that SIGTERM too. A handler stuck on
an abandoned call makes it exit with ``EXIT_RECYCLE`` after a ``{"op": "retiring"}`` frame, so the parent
places no more connections on it; the parent starts a fresh worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import NoReturn

from modelyard.toolkit import framing
from modelyard.toolkit.buffered_reads import BufferedReads
from modelyard.toolkit.environment import ToolkitSettings
from modelyard.toolkit.frame_server import FrameProtocol
from modelyard.toolkit.http_server import HttpProtocol
from modelyard.toolkit.pool import FRAMES, POOL_PARENT_VARIABLE
from modelyard.toolkit.routes import Service
from modelyard.toolkit.runner import HandlerThread
from modelyard.toolkit.startup import DRAIN_SECONDS, EXIT_LOAD_FAILED, LoadFailed, load_handler

EXIT_RECYCLE = 75
_PR_SET_PDEATHSIG = 1
_CLOSED = framing.encode_frame({"op": "closed"})
_RETIRING = framing.encode_frame({"op": "retiring"})


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _retire(control: socket.socket) -> Callable[[], NoReturn]:
    """The recycle of a worker: tell the parent to place no more connections here, then exit."""

    def recycle() -> NoReturn:
        sys.stdout.flush()
        sys.stderr.flush()
        with contextlib.suppress(OSError):
            control.setblocking(True)
            control.sendall(_RETIRING)
        os._exit(EXIT_RECYCLE)

    return recycle


def _end_with_parent() -> None:
    """SIGTERM this worker when the pool's process ends without stopping it (killed outright, which the
    sandbox does not always follow: an unsandboxed toolkit, one started by hand). A worker still loading its
    model sees neither the parent's SIGTERM nor its socketpair closing, and would live on."""
    expected = os.environ.get(POOL_PARENT_VARIABLE, "")
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if expected.isdigit() and os.getppid() != int(expected):
        raise SystemExit(0)


def run(fd: int, settings: ToolkitSettings) -> int:
    """Serve the connections the parent passes on socketpair ``fd``; returns the exit code."""
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_parent()
    control = socket.socket(fileno=fd)
    runner = HandlerThread()
    try:
        handler = load_handler(settings, runner.call)
    except LoadFailed as exc:
        print(exc.line, file=sys.stderr, flush=True)
        return EXIT_LOAD_FAILED
    control.sendall(framing.encode_frame({"op": "ready", "pid": os.getpid()}))
    code = asyncio.run(_serve(control, Service(handler, runner, _retire(control))))
    runner.stop()
    return code


async def _serve(control: socket.socket, service: Service) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    control.setblocking(False)

    def closed() -> None:
        with contextlib.suppress(OSError):
            control.send(_CLOSED)

    def take() -> None:
        while True:
            try:
                kind, fds, _, _ = socket.recv_fds(control, 1, 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                kind, fds = b"", []
            if not kind:
                for fd in fds:
                    os.close(fd)
                stop.set()
                return
            for fd in fds:
                _adopt(loop, socket.socket(fileno=fd), kind, service, closed)

    loop.add_reader(control.fileno(), take)
    await stop.wait()
    loop.remove_reader(control.fileno())
    deadline = loop.time() + DRAIN_SECONDS
    while service.in_flight and loop.time() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0)
    return 0


def _adopt(loop: asyncio.AbstractEventLoop, connection: socket.socket, kind: bytes, service: Service,
           closed: Callable[[], None]) -> None:
    """Serve a passed connection with the protocol its ``kind`` names."""
    connection.setblocking(False)
    inner: asyncio.Protocol = FrameProtocol(service, loop) if kind == FRAMES else HttpProtocol(service, loop)
    loop.create_task(loop.connect_accepted_socket(lambda: BufferedReads(inner, closed), connection))
