"""While endpoints are being invoked, the control worker processes get at most a fixed share of a CPU.

The workers' cgroup weighs a tenth of the server's, but weights only divide a CPU that both want: on a
2-core host the invoke path (the server's loop and the model's container, taking turns) leaves CPU time
idle between its steps, the workers fill it, and the invoke path slowed by about as much as they took
(bench/edge_contention.py: 14 MB CreateModel bodies or eight Search loops cut invocations to 0.59 and
0.47 of the quiet rate). So while any invocation was routed in the last ``idle_after`` seconds the
workers' group gets a CPU quota (``ContainerGroup.limit_cpu``); once invocations stop it is lifted and
control-plane work runs at full speed again.
"""

from __future__ import annotations

import logging
import threading

from modelyard.hosting.activity import InvokeActivity
from modelyard.runtime.cgroups import CgroupError, ContainerGroup

log = logging.getLogger("modelyard.edge")

BUSY_SHARE_OF_A_CPU = 0.10
"""The workers' CPU while endpoints are invoked. The benchmark kept 0.91/0.92 (big bodies/Search) of the
quiet invoke rate at 0.10, 0.84/0.79 at 0.15 and 0.81/0.76 at 0.25; the price is the control plane's
pace meanwhile (at 0.10: 3 instead of 18 big bodies and ~80 instead of ~680 Searches in 8 s)."""
IDLE_AFTER_SECONDS = 1.0
CHECK_INTERVAL_SECONDS = 0.2


class WorkerThrottle:
    """A thread that quotas the workers' ``group`` while ``activity`` is busy and lifts it when idle."""

    def __init__(self, group: ContainerGroup, activity: InvokeActivity, *, share: float = BUSY_SHARE_OF_A_CPU,
                 idle_after: float = IDLE_AFTER_SECONDS, interval: float = CHECK_INTERVAL_SECONDS) -> None:
        self.group = group
        self.activity = activity
        self.share = share
        self.idle_after = idle_after
        self.interval = interval
        self.limited = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        """Start watching (an application startup hook)."""
        self._thread = threading.Thread(target=self._run, name="worker-throttle", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Stop watching (an application shutdown hook)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            busy = self.activity.busy(self.idle_after)
            if busy == self.limited:
                continue
            try:
                self.group.limit_cpu(self.share if busy else None)
            except CgroupError as exc:
                log.warning("the control workers' CPU quota could not be %s: %s",
                            "set" if busy else "lifted", exc)
                return
            self.limited = busy
