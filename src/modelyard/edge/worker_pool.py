"""The control worker processes: they decode large control-plane bodies and run the operations that
are CPU-heavy in Python (Search), so neither holds the server's GIL or its event loop.

A ``ProcessPoolExecutor`` whose worker is killed stays broken for good; ``WorkerPool`` starts a fresh
pool for the next request instead, so one lost worker costs one request a 503, never the server.

The workers run at the lowest CPU priority (nice 19, ``SCHED_BATCH``): that work must wait while the
server and the model processes (nice 10, see ``runtime.priority``) have invocations to serve, so a
client looping 14 MB bodies or heavy searches takes spare CPU first. ``SCHED_BATCH`` rather than
``SCHED_IDLE``: a search a user waits for still gets its nice-19 share on a saturated host. Where the
containers have cgroups of their own, a nice value weighs only within the worker's group (the
scheduler shares the CPU between groups first), so the workers join a leaf beside the server
process's own, at a tenth of its weight (``join_files``, made by the composition root with
``CgroupTree.background`` after ``CgroupTree.place_server``).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

WORKER_NICE = 19
PARENT_CHECK_SECONDS = 1.0


class WorkerPool(Executor):
    """``workers`` spawned processes (no fork of the threaded server), respawned after a failure.

    ``initializer(*initargs)`` runs once in each worker after its priority is lowered (it must be an
    importable module-level function; the arguments must pickle)."""

    def __init__(self, workers: int, initializer: Callable[..., None] | None = None,
                 initargs: tuple[Any, ...] = (), join_files: tuple[str, ...] = ()) -> None:
        self.workers = workers
        self.join_files = join_files
        self._initializer = initializer
        self._initargs = initargs
        self._lock = threading.Lock()
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=start_worker,
                                   initargs=(self._initializer, self._initargs, self.join_files, os.getpid()))

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` in a worker (both must pickle)."""
        with self._lock:
            try:
                return self._pool.submit(fn, *args, **kwargs)
            except BrokenProcessPool:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start()
                return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers."""
        with self._lock:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def start_worker(initializer: Callable[..., None] | None, initargs: tuple[Any, ...],
                 join_files: tuple[str, ...] = (), server: int | None = None) -> None:
    """In a new worker: its low-weight group and lowest priority first, a watch that ends the worker when
    the ``server`` process that started it is gone (killed servers must not leave workers behind, also
    when the server died while the worker was starting), then the caller's initializer."""
    watch_parent(server if server is not None else os.getppid())
    pid = str(os.getpid()).encode()
    for path in join_files:
        try:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, pid)
            finally:
                os.close(fd)
        except OSError:
            pass
    lowest_priority()
    if initializer is not None:
        initializer(*initargs)


def watch_parent(parent: int) -> None:
    """End this process within ``PARENT_CHECK_SECONDS`` of ``parent`` ending (it is then re-parented; a
    process whose parent is already another one ends at once)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def lowest_priority() -> None:
    """``SCHED_BATCH``, then nice 19 (absolute, whatever the server's own nice value): whoever sees nice 19
    sees the batch policy too."""
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        os.setpriority(os.PRIO_PROCESS, 0, WORKER_NICE)
    except OSError:
        pass
