"""Several worker processes behind one socket (``SAGEMAKER_MODEL_SERVER_WORKERS`` > 1).

::

    clients ─► parent (event loop: frames / HTTP, ping) ─► idle worker? ─► socketpair frame
                     │  FIFO queue when all are busy          worker: model_fn once, then
                     └◄──────────── response frame ◄─────────  one request at a time

The parent never imports user code. It publishes the socket when every worker has loaded,
restarts a worker that dies (its request in flight gets a 500), and on SIGTERM drains, then
stops the workers. Workers are fresh interpreters (``subprocess``), not forks. A request whose
caller gave up (invoke timeout) leaves the queue, or, if a worker is running it, that worker is
killed and replaced, so a handler stuck for ever never holds a worker for ever.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path

from modelyard.toolkit import framing
from modelyard.toolkit.context import Headers
from modelyard.toolkit.environment import ToolkitSettings
from modelyard.toolkit.handler import PartSink, Response
from modelyard.toolkit.routes import PING_OK

_SRC = str(Path(__file__).resolve().parents[2])
_TEXT = "text/plain; charset=utf-8"
Done = Callable[[Response], None]


class Worker(asyncio.Protocol):
    """The parent's end of one worker's socketpair."""

    def __init__(self, pool: WorkerPool, process: subprocess.Popen[bytes]) -> None:
        self.pool = pool
        self.process = process
        self.ready: asyncio.Future[bool] = pool.loop.create_future()
        self.current: Done | None = None
        self.stream: PartSink | None = None
        self.transport: asyncio.Transport | None = None
        self._parser = framing.FrameParser()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._parser.feed(data)
        except framing.FrameError as exc:
            print(f"modelyard-toolkit: bad frame from worker {self.process.pid}: {exc}", file=sys.stderr)
            self.process.kill()
            return
        for header, body in frames:
            if not self.ready.done():
                self.ready.set_result(header.get("op") == "ready")
                if self.ready.result():
                    self.pool.worker_idle(self)
                continue
            kind = header.get(framing.STREAM)
            stream = self.stream
            if kind == framing.STREAM_START and stream is not None:
                stream.start(int(header.get("status", 200)), header.get("content_type"),
                             header.get("custom_attributes"))
            elif kind == framing.STREAM_PART and stream is not None:
                stream.part(body)
            else:
                self.stream = None
                self.pool.worker_answered(self, Response(int(header.get("status", 500)), body,
                                                         header.get("content_type"),
                                                         header.get("custom_attributes"),
                                                         streamed=kind in (framing.STREAM_END,
                                                                           framing.STREAM_ERROR)))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.ready.done():
            self.ready.set_result(False)
        self.pool.worker_lost(self)

    def send(self, body: bytes, headers: Headers, done: Done, stream: PartSink | None = None) -> None:
        """Hand one request to this (idle) worker (its parts to ``stream``, when given)."""
        self.current = done
        self.stream = stream
        header = {"op": framing.OP_INVOKE, "headers": dict(headers), framing.STREAM: stream is not None}
        for part in framing.frame_parts(header, body):
            self.transport.write(part)  # type: ignore[union-attr]


class WorkerPool:
    """Spawns, feeds, restarts and stops the workers; the Service interface for the protocols."""

    def __init__(self, settings: ToolkitSettings, loop: asyncio.AbstractEventLoop) -> None:
        self.settings = settings
        self.loop = loop
        self.workers: set[Worker] = set()
        self.stopping = False
        self._idle: deque[Worker] = deque()
        self._queue: deque[tuple[bytes, Headers, Done, PartSink | None]] = deque()
        self._pending = 0
        self._failures = 0
        self._started = False
        parameters = json.dumps(settings.execution_parameters).encode()
        self._parameters = Response(200, parameters, "application/json")

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
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_SRC, env.get("PYTHONPATH")) if p)
        command = [sys.executable, "-m", "modelyard.toolkit", "worker", str(child.fileno())]
        with child:
            process = subprocess.Popen(command, pass_fds=(child.fileno(),), env=env)
        _, worker = await self.loop.connect_accepted_socket(lambda: Worker(self, process), parent)
        self.workers.add(worker)
        return worker

    async def _reap(self, worker: Worker) -> int:
        while worker.process.poll() is None:
            await asyncio.sleep(0.02)
        return worker.process.returncode

    def worker_idle(self, worker: Worker) -> None:
        """A worker finished loading or answering: give it the next request."""
        if self._queue:
            body, headers, done, stream = self._queue.popleft()
            worker.send(body, headers, done, stream)
        else:
            self._idle.append(worker)

    def worker_answered(self, worker: Worker, response: Response) -> None:
        """A worker answered its current request."""
        done, worker.current = worker.current, None
        self._pending -= 1
        self._failures = 0
        self.worker_idle(worker)
        if done is not None:
            done(response)

    def worker_lost(self, worker: Worker) -> None:
        """A worker's socket closed: fail its request and start a replacement."""
        self.workers.discard(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        if worker.current is not None:
            done, worker.current = worker.current, None
            self._pending -= 1
            done(Response(500, b"the worker process exited while handling the request", _TEXT))
        if not self.stopping and self._started:
            self.loop.create_task(self._replace(worker))

    async def _replace(self, worker: Worker) -> None:
        code = await self._reap(worker)
        print(f"modelyard-toolkit: worker {worker.process.pid} exited with code {code}; restarting",
              file=sys.stderr, flush=True)
        self._failures += 1
        await asyncio.sleep(min(5.0, 0.2 * (self._failures - 1)))
        if not self.stopping:
            await self._spawn()

    def ping(self) -> Response:
        """200 while at least one worker is loaded."""
        if any(w.ready.done() and w.ready.result() for w in self.workers):
            return PING_OK
        return Response(503, b"no worker is loaded", _TEXT)

    def execution_parameters(self) -> Response:
        """The batch-transform execution parameters."""
        return self._parameters

    def invoke(self, loop: asyncio.AbstractEventLoop, body: bytes, headers: Headers, done: Done,
               stream: PartSink | None = None, reply: Callable[[Response], bool] | None = None) -> None:
        """Send to an idle worker, or queue in arrival order (answers always come through ``done``: the
        workers' answers arrive on this loop, so ``reply`` is not used)."""
        self._pending += 1
        if self._idle:
            self._idle.popleft().send(body, headers, done, stream)
        else:
            self._queue.append((body, headers, done, stream))

    def abandon(self, done: Done) -> None:
        """The caller of the request reporting to ``done`` is gone: unqueue it, or recycle its worker."""
        for entry in list(self._queue):
            if entry[2] == done:
                self._queue.remove(entry)
                self._pending -= 1
                return
        for worker in list(self.workers):
            if worker.current == done and worker.process.poll() is None:
                print(f"modelyard-toolkit: an invocation was abandoned by its caller (invoke timeout) while "
                      f"worker {worker.process.pid} was running it; restarting the worker",
                      file=sys.stderr, flush=True)
                worker.process.kill()
                return

    @property
    def in_flight(self) -> int:
        """Requests queued or being handled."""
        return self._pending

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM every worker and wait (SIGKILL after ``timeout``)."""
        self.stopping = True
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
