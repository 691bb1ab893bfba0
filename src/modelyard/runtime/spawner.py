"""One long-lived thread that forks every container, so parent-death signals outlive worker threads.

``PR_SET_PDEATHSIG`` is delivered when the thread that created the child exits. Forking from a
dedicated daemon thread that lives as long as the process ties each container to the process.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_state: dict[str, object] = {}


def run_in_spawner(function: Callable[[], T]) -> T:
    """Run ``function`` on the spawner thread and return its result (or raise its exception)."""
    future: Future[T] = Future()
    _queue().put((function, future))  # type: ignore[arg-type]
    return future.result()


def _queue() -> queue.SimpleQueue[tuple[Callable[[], object], Future[object]]]:
    with _lock:
        if _state.get("pid") != os.getpid():
            work: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]] = queue.SimpleQueue()
            thread = threading.Thread(target=_serve, args=(work,), name="modelyard-spawner", daemon=True)
            thread.start()
            _state.update(pid=os.getpid(), queue=work)
        return _state["queue"]  # type: ignore[return-value]


def _serve(work: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]]) -> None:
    while True:
        function, future = work.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(function())
        except BaseException as exc:  # noqa: BLE001
            future.set_exception(exc)
