"""``python -m modelyard.toolkit serve``: load the model once, then serve frames (and HTTP).

::

    settings ─► bind unix socket at <path>.tmp ─► load (one process, or N worker processes)
             ─► rename <path>.tmp -> <path> ─► bind HTTP ─► serve until SIGTERM ─► drain ─► exit 0

The socket path appears only once the model is loaded (by every worker when N > 1), so a
client that can connect is talking to a loaded model: "ping fails until loaded". HTTP is
bound after the load as well. If loading fails, the traceback goes to stderr, then a last line
``modelyard-toolkit: model_fn failed: <ExcType>: <message>`` (or ``handler load failed: ...``
for an import or contract error), and the process exits with code 2.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modelyard.toolkit import recycle
from modelyard.toolkit.buffered_reads import BufferedReads
from modelyard.toolkit.environment import ToolkitSettings
from modelyard.toolkit.frame_server import FrameProtocol
from modelyard.toolkit.handler import Handler
from modelyard.toolkit.http_server import HttpProtocol
from modelyard.toolkit.routes import Service
from modelyard.toolkit.runner import HandlerThread

PREFIX = "modelyard-toolkit:"
EXIT_LOAD_FAILED = 2
DRAIN_SECONDS = 20.0


def log(message: str, error: bool = False) -> None:
    """Print one toolkit log line (stdout, or stderr when ``error``)."""
    print(f"{PREFIX} {message}", file=sys.stderr if error else sys.stdout, flush=True)


class LoadFailed(Exception):
    """Loading failed; ``line`` is the last stderr line for the controller."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


class Terminated(BaseException):
    """SIGTERM arrived before the event loop was running."""


@dataclass
class Listeners:
    """The unix socket, bound at a temporary name until the model is loaded."""

    unix: socket.socket | None = None
    unix_tmp: str | None = None
    unix_path: str | None = None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def load_handler(settings: ToolkitSettings, call: Callable[..., Any]) -> Handler:
    """Import the program and run ``model_fn`` through ``call``; LoadFailed on any error."""
    log(f"loading model from {settings.model_dir} (program {settings.program} in {settings.code_dir}, "
        f"pid {os.getpid()})")
    started = time.monotonic()
    try:
        handler: Handler = call(Handler.from_settings, settings)
    except Exception as exc:  # noqa: BLE001 - any import-time error of user code
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        raise LoadFailed(f"{PREFIX} handler load failed: {_one_line(exc)}") from None
    try:
        call(handler.load)
    except Exception as exc:  # noqa: BLE001
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        raise LoadFailed(f"{PREFIX} model_fn failed: {_one_line(exc)}") from None
    log(f"model loaded in {time.monotonic() - started:.3f}s (pid {os.getpid()})")
    return handler


def bind_unix(path: str) -> Listeners:
    """A listening unix socket at ``<path>.tmp`` (published later by ``publish``)."""
    tmp = f"{path}.tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(tmp)
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot bind unix socket {tmp}: {exc}") from None
    sock.listen(1024)
    sock.setblocking(False)
    return Listeners(sock, tmp, path)


def bind_http(settings: ToolkitSettings) -> socket.socket | None:
    """The listening TCP socket for the HTTP adapter, when one is configured (or handed over)."""
    handed_over = recycle.inherited(recycle.HTTP_FD)
    if handed_over is not None:
        return handed_over
    if not settings.http_port:
        return None
    sock = socket.create_server((settings.http_host, settings.http_port), backlog=1024)
    sock.setblocking(False)
    log(f"listening on http://{settings.http_host}:{sock.getsockname()[1]}")
    return sock


def publish(listeners: Listeners) -> int | None:
    """Move the socket to its real path; returns its inode (to remove only our own file later)."""
    if listeners.unix_path is None:
        return None
    if listeners.unix_tmp is not None:
        os.replace(listeners.unix_tmp, listeners.unix_path)
    log(f"listening on unix:{listeners.unix_path}")
    return os.stat(listeners.unix_path).st_ino


def unpublish(listeners: Listeners, inode: int | None) -> None:
    """Remove the temporary socket name, and the real one if it is still ours."""
    for path, check in ((listeners.unix_tmp, False), (listeners.unix_path, True)):
        try:
            if path and (not check or os.stat(path).st_ino == inode):
                os.unlink(path)
        except OSError:
            pass


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


async def serve_until_stopped(service: Any, unix: socket.socket | None, http: socket.socket | None,
                              stop: asyncio.Event) -> None:
    """Serve frames (and HTTP) with ``service`` until ``stop`` is set, then drain in-flight requests."""
    loop = asyncio.get_running_loop()
    servers = []
    if unix is not None:
        servers.append(await loop.create_unix_server(lambda: BufferedReads(FrameProtocol(service, loop)), sock=unix))
    if http is not None:
        servers.append(await loop.create_server(lambda: BufferedReads(HttpProtocol(service, loop)), sock=http))
    log(f"serving (pid {os.getpid()})")
    await stop.wait()
    log(f"stopping (pid {os.getpid()}), {service.in_flight} request(s) in flight")
    for server in servers:
        server.close()
    deadline = loop.time() + DRAIN_SECONDS
    while service.in_flight and loop.time() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0)


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


def run_single(settings: ToolkitSettings, listeners: Listeners) -> int:
    """One process: model on the handler thread, I/O on the event loop.

    A handler stuck on an abandoned invocation makes the process restart itself in place.
    """
    runner = HandlerThread()
    inode = None
    try:
        handler = load_handler(settings, runner.call)
        inode = publish(listeners)
        http = bind_http(settings)

        def restart() -> None:
            recycle.restart_in_place(listeners.unix, http)

        async def main() -> None:
            await serve_until_stopped(Service(handler, runner, restart), listeners.unix, http, _stop_event())

        asyncio.run(main())
    except Terminated:
        return 0
    except LoadFailed as exc:
        print(exc.line, file=sys.stderr, flush=True)
        return EXIT_LOAD_FAILED
    except OSError as exc:
        log(f"cannot listen: {exc}", error=True)
        return 1
    finally:
        unpublish(listeners, inode)
    runner.stop()
    return 0


def run_pool(settings: ToolkitSettings, listeners: Listeners) -> int:
    """N worker processes, each serving the connections this process accepts and passes to it."""
    from modelyard.toolkit.pool import WorkerPool

    async def main() -> int:
        stop = _stop_event()
        pool = WorkerPool(settings, asyncio.get_running_loop())
        starting = asyncio.ensure_future(pool.start())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            await pool.stop()
            return 0
        stopping.cancel()
        code = starting.result()
        if code is not None:
            return code
        inode = publish(listeners)
        try:
            log(f"{settings.workers} workers ready")
            pool.serve(listeners.unix, bind_http(settings))
            log(f"serving (pid {os.getpid()}): connections placed on the workers")
            await stop.wait()
            log(f"stopping (pid {os.getpid()}): the workers finish their calls in flight")
            await pool.stop(DRAIN_SECONDS + 10)
        finally:
            unpublish(listeners, inode)
        log("all workers stopped")
        return 0

    try:
        return asyncio.run(main())
    except Terminated:
        return 0
    except OSError as exc:
        log(f"cannot listen: {exc}", error=True)
        return 1
    finally:
        unpublish(listeners, None)


def serve(settings: ToolkitSettings) -> int:
    """Run the server described by ``settings``; returns the process exit code."""
    if settings.socket_path is None and settings.http_port is None:
        log("nothing to serve on: set MODELYARD_SOCKET and/or SAGEMAKER_BIND_TO_PORT", error=True)
        return 64
    signal.signal(signal.SIGTERM, _raise_terminated)
    signal.signal(signal.SIGINT, _raise_terminated)
    log(f"starting: {settings.workers} worker(s), default accept {settings.default_accept}")
    handed_over = recycle.inherited(recycle.UNIX_FD)
    try:
        if handed_over is not None:
            listeners = Listeners(handed_over, None, settings.socket_path)
        else:
            listeners = bind_unix(settings.socket_path) if settings.socket_path else Listeners()
    except OSError as exc:
        log(str(exc), error=True)
        return 1
    if settings.workers > 1:
        return run_pool(settings, listeners)
    return run_single(settings, listeners)
