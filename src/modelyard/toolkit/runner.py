"""The one dedicated thread that runs user code, fed by a FIFO queue.

The event loop only does I/O: it submits a call and gets the result back through
``loop.call_soon_threadsafe``, so pings are answered while a handler is slow. A call may carry a
``reply``: run on this thread with the result, it may deliver the result itself (the frame server writes
the answer to its connection when nothing else is pending there), and then the loop is not woken at all.
``model_fn``
runs on the same thread as every later hook (some frameworks care which thread owns a model).
A submitted call can be cancelled while it waits; ``current`` is the call running now.
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

_STOP = object()


class Call:
    """One submitted call: what to run, where to report, and whether it was cancelled while waiting."""

    __slots__ = ("args", "cancelled", "done", "func", "loop", "reply")

    def __init__(self, loop: asyncio.AbstractEventLoop | None, func: Callable[..., Any], args: tuple[Any, ...],
                 done: Callable[[Any], None] | None, reply: Callable[[Any], bool] | None = None) -> None:
        self.loop = loop
        self.func = func
        self.args = args
        self.done = done
        self.reply = reply
        self.cancelled = False


class HandlerThread:
    """Runs submitted calls one at a time, in order, on a single daemon thread."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="modelyard-handler", daemon=True)
        self.pending = 0
        self._replied = 0
        self._count = threading.Lock()
        """Guards ``pending``: calls are submitted from the loop and, for pipelined frames, from this thread."""
        self.current: Call | None = None
        self._thread.start()

    @property
    def in_flight(self) -> int:
        """Calls submitted and not yet answered."""
        return self.pending - self._replied

    def submit(self, loop: asyncio.AbstractEventLoop, func: Callable[..., Any], args: tuple[Any, ...],
               done: Callable[[Any], None], reply: Callable[[Any], bool] | None = None) -> Call:
        """Queue ``func(*args)``; ``done(result)`` is then called on ``loop`` (unless cancelled first, or
        ``reply(result)``, called on this thread first, returns True: it delivered the result itself)."""
        with self._count:
            self.pending += 1
        call = Call(loop, func, args, done, reply)
        self._queue.put(call)
        return call

    def call(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run ``func(*args)`` on the handler thread and wait for it (re-raising its exception)."""
        box: dict[str, Any] = {}
        finished = threading.Event()

        def run() -> None:
            try:
                box["result"] = func(*args)
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                box["error"] = exc
            finally:
                finished.set()

        self._queue.put(Call(None, run, (), None))
        while not finished.wait(0.5):
            pass
        if "error" in box:
            raise box["error"]
        return box["result"]

    def stop(self) -> None:
        """Let the thread finish what is queued, then end."""
        self._queue.put(_STOP)

    def _run(self) -> None:
        get = self._queue.get
        while True:
            item = get()
            if item is _STOP:
                return
            call: Call = item
            if call.cancelled:
                if not self._report(call, self._skipped, None):
                    return
                continue
            self.current = call
            try:
                result = call.func(*call.args)
            except BaseException as exc:  # noqa: BLE001 - the loop must always get an answer
                traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
                result = exc
            self.current = None
            if call.reply is not None and call.reply(result):
                self._replied += 1
                continue
            if call.done is not None and not self._report(call, self._finish, call.done, result):
                return

    @staticmethod
    def _report(call: Call, callback: Callable[..., None], *args: Any) -> bool:
        assert call.loop is not None
        try:
            call.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            return False
        return True

    def _skipped(self, _: None) -> None:
        with self._count:
            self.pending -= 1

    def _finish(self, done: Callable[[Any], None], result: Any) -> None:
        with self._count:
            self.pending -= 1
        done(result)
