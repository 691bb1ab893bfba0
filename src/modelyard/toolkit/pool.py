"""Several worker processes behind one socket (``SAGEMAKER_MODEL_SERVER_WORKERS`` > 1).

::

    clients ─► parent: accept ─► the loaded worker holding the fewest connections
                                   (the accepted descriptor passed over its socketpair, SCM_RIGHTS)
               worker: its own event loop and handler thread serve the connection (frames or HTTP)
                       until it closes, then tell the parent ("closed")

The parent never imports user code and no request passes through it: it only places connections,
which is what the pool used to cost on every request (a relay parent → worker → parent over
socketpairs: two more processes woken per call). It publishes the socket when every worker has
loaded, restarts a worker that dies (the connections that worker held close; a call in flight on one
gets no answer, which the router reports as the instance's failure), and on SIGTERM stops accepting,
then SIGTERMs the workers, which drain their calls in flight. A worker whose handler is stuck on an
invocation its caller abandoned exits so the parent replaces it (``routes.Service.abandon``).
Placement is per connection: a client with several calls in flight uses several connections (as the
router does), and the least-loaded worker gets each new one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from modelyard.toolkit import framing
from modelyard.toolkit.environment import ToolkitSettings

_SRC = str(Path(__file__).resolve().parents[2])
POOL_PARENT_VARIABLE = "MODELYARD_POOL_PARENT"
"""The pid of the pool's process, given to each worker it starts (a worker whose parent is another has
outlived it)."""
FRAMES = b"f"
HTTP = b"h"
"""The byte each passed descriptor travels with: the protocol the worker speaks on it."""


class Worker(asyncio.Protocol):
    """The parent's end of one worker's socketpair: hands it connections, hears ``ready`` and ``closed``."""

    def __init__(self, pool: WorkerPool, process: subprocess.Popen[bytes], sender: socket.socket) -> None:
        self.pool = pool
        self.process = process
        self.ready: asyncio.Future[bool] = pool.loop.create_future()
        self.connections = 0
        self.retiring = False
        self._sender = sender
        self._parser = framing.FrameParser()

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._parser.feed(data)
        except framing.FrameError as exc:
            print(f"modelyard-toolkit: bad frame from worker {self.process.pid}: {exc}", file=sys.stderr)
            self.process.kill()
            return
        for header, _ in frames:
            op = header.get("op")
            if not self.ready.done():
                self.ready.set_result(op == "ready")
                if op == "ready":
                    self.pool.worker_ready()
            elif op == "closed":
                self.connections = max(0, self.connections - 1)
            elif op == "retiring":
                self.retiring = True
                self.pool.worker_retiring()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_result(False)
        self._sender.close()
        self.pool.worker_lost(self)

    def give(self, kind: bytes, connection: socket.socket) -> bool:
        """Pass ``connection`` to this worker; False when its socketpair does not take it."""
        try:
            socket.send_fds(self._sender, [kind], [connection.fileno()])
        except OSError:
            return False
        self.connections += 1
        return True

    @property
    def serving(self) -> bool:
        """Loaded, running and not about to exit."""
        return (self.ready.done() and self.ready.result() and not self.retiring
                and self.process.poll() is None)


class WorkerPool:
    """Spawns, restarts and stops the workers, and places each accepted connection on one of them."""

    def __init__(self, settings: ToolkitSettings, loop: asyncio.AbstractEventLoop) -> None:
        self.settings = settings
        self.loop = loop
        self.workers: set[Worker] = set()
        self.stopping = False
        self._listeners: list[tuple[socket.socket, bytes]] = []
        self._accepting = False
        self._failures = 0
        self._started = False

    async def start(self) -> int | None:
        """Start every worker; None when all loaded, else the exit code of the first failure."""
        workers = [await self._spawn() for _ in range(self.settings.workers)]
        results = await asyncio.gather(*(worker.ready for worker in workers))
        if all(results):
            self._started = True
            return None
        failed = next(w for w, ok in zip(workers, results, strict=True) if not ok)
        code = await self._reap(failed)
        await self.stop()
        return code if code > 0 else 2

    async def _spawn(self) -> Worker:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        sender = socket.socket(fileno=os.dup(parent.fileno()))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_SRC, env.get("PYTHONPATH")) if p)
        env[POOL_PARENT_VARIABLE] = str(os.getpid())
        command = [sys.executable, "-m", "modelyard.toolkit", "worker", str(child.fileno())]
        with child:
            process = subprocess.Popen(command, pass_fds=(child.fileno(),), env=env)
        _, worker = await self.loop.connect_accepted_socket(lambda: Worker(self, process, sender), parent)
        self.workers.add(worker)
        return worker

    async def _reap(self, worker: Worker) -> int:
        while worker.process.poll() is None:
            await asyncio.sleep(0.02)
        return worker.process.returncode

    def serve(self, unix: socket.socket | None, http: socket.socket | None) -> None:
        """Accept on the listening sockets and place each connection on a worker."""
        self._listeners = [(sock, kind) for sock, kind in ((unix, FRAMES), (http, HTTP)) if sock is not None]
        self._accept_when_ready()

    def _accept_when_ready(self) -> None:
        """Accept while a worker can take connections; otherwise leave them in the listen backlog."""
        can = not self.stopping and any(worker.serving for worker in self.workers)
        if can and not self._accepting:
            for sock, kind in self._listeners:
                self.loop.add_reader(sock.fileno(), self._accept, sock, kind)
        elif not can and self._accepting:
            for sock, _ in self._listeners:
                self.loop.remove_reader(sock.fileno())
        self._accepting = can and bool(self._listeners)

    def _accept(self, listener: socket.socket, kind: bytes) -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                print(f"modelyard-toolkit: accept failed: {exc}", file=sys.stderr, flush=True)
                return
            with connection:
                if not self._place(kind, connection):
                    self._accept_when_ready()
                    return

    def _place(self, kind: bytes, connection: socket.socket) -> bool:
        for worker in sorted((w for w in self.workers if w.serving), key=lambda w: w.connections):
            if worker.give(kind, connection):
                return True
        return False

    def worker_ready(self) -> None:
        """A worker finished loading: it may take connections."""
        if self._started:
            self._accept_when_ready()

    def worker_retiring(self) -> None:
        """A worker announced its exit: stop accepting if it was the last one serving."""
        self._accept_when_ready()

    def worker_lost(self, worker: Worker) -> None:
        """A worker's socketpair closed: start a replacement."""
        self.workers.discard(worker)
        self._accept_when_ready()
        if not self.stopping and self._started:
            self.loop.create_task(self._replace(worker))

    async def _replace(self, worker: Worker) -> None:
        code = await self._reap(worker)
        print(f"modelyard-toolkit: worker {worker.process.pid} exited with code {code}; restarting",
              file=sys.stderr, flush=True)
        self._failures += 1
        await asyncio.sleep(min(5.0, 0.2 * (self._failures - 1)))
        if not self.stopping:
            replacement = await self._spawn()
            if await replacement.ready:
                self._failures = 0

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, SIGTERM every worker (each drains its calls) and wait (SIGKILL after ``timeout``)."""
        self.stopping = True
        self._accept_when_ready()
        workers = list(self.workers)
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(self._reap(w) for w in workers)), timeout)
        except asyncio.TimeoutError:
            for worker in workers:
                if worker.process.poll() is None:
                    worker.process.kill()
                    worker.process.wait()
