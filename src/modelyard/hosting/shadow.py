"""Shadow variants: a sampled copy of each real-time call goes to the endpoint's shadow variant.

    InvokeEndpoint -> ShadowCopier.offer (sampled by the shadow's weight) -> a background task sends the
    copy to the shadow's least busy instance -> its outcome and latency are counted under the shadow's
    VariantName; the answer is dropped: the client only ever gets the production variant's answer, and
    nothing the shadow does (errors, time-outs, no instance) reaches it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from modelyard.hosting.instances import Invocation
from modelyard.hosting.router import EndpointRoutes
from modelyard.metrics.endpoint_meter import CLIENT_ERROR, OK, SERVER_ERROR, EndpointMeter

log = logging.getLogger("modelyard.hosting.shadow")
MAX_COPIES_IN_FLIGHT = 256
"""Copies beyond this many in flight are dropped (and counted), so a slow shadow cannot pile up work."""


class ShadowCopier:
    """Sends shadow copies in the background (event loop only)."""

    def __init__(self, timeout: float, meter: EndpointMeter | None,
                 draw: Callable[[], float] = random.random) -> None:
        self.timeout = timeout
        self.meter = meter
        self.draw = draw
        self.dropped = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def offer(self, account: str, region: str, routes: EndpointRoutes, invocation: Invocation) -> None:
        """Copy the call to the routes' shadow variant if it is sampled; never raises, never waits."""
        shadow = routes.shadow
        if shadow is None or shadow.sampling <= 0 or (shadow.sampling < 1 and self.draw() >= shadow.sampling):
            return
        if len(self._tasks) >= MAX_COPIES_IN_FLIGHT:
            self.dropped += 1
            return
        task = asyncio.get_running_loop().create_task(self._copy(account, region, routes, invocation))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _copy(self, account: str, region: str, routes: EndpointRoutes, invocation: Invocation) -> None:
        assert routes.shadow is not None
        variant = routes.shadow.variant
        instance = variant.pick()
        started = time.perf_counter()
        outcome, model_error, model_seconds = OK, False, None
        try:
            if instance is None:
                outcome = SERVER_ERROR
                return
            reply = await instance.invoke(invocation, self.timeout)
            model_seconds = time.perf_counter() - started
            if reply.status >= 400:
                outcome, model_error = (CLIENT_ERROR if reply.status < 500 else SERVER_ERROR), True
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outcome, model_error = SERVER_ERROR, True
            model_seconds = time.perf_counter() - started
            log.debug("shadow copy to %s/%s failed: %r", routes.name, variant.name, exc)
        finally:
            if self.meter is not None:
                overhead = time.perf_counter() - started - (model_seconds or 0.0)
                self.meter.record(account, region, routes.name, variant.name, len(variant.instances),
                                  model_seconds, overhead, outcome, model_error)
