"""Crash-restart backoff: it grows with consecutive crashes and starts over after a healthy run.

Driven with an injected clock and a recording sleep, so no test waits or depends on wall-clock time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from modelyard.controllers.endpoints.backoff import RestartBackoff
from modelyard.controllers.endpoints.controller import EndpointController
from modelyard.controllers.launcher import Instance
from modelyard.controllers.reconciler import ResourceKey
from modelyard.hosting.router import Router
from modelyard.logstore import LogStore
from modelyard.services.endpoints import create_endpoint
from modelyard.store.database import Database
from tests.controllers.conftest import ACCOUNT, REGION, app_state, context
from tests.controllers.endpoint_doubles import FakeLauncher, FakePreparer
from tests.controllers.resources import add_config, add_model

EP = ResourceKey(ACCOUNT, REGION, "ep")
HEALTHY_RESET = 100.0


class ExitedProcess:
    """Stands in for a container process that has exited with an error."""

    returncode = 1

    def poll(self) -> int:
        return 1


def test_the_policy_grows_caps_and_resets() -> None:
    backoff = RestartBackoff(reset_after_seconds=HEALTHY_RESET)
    assert [backoff.delay(n) for n in range(8)] == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff.restarts_so_far(6, healthy_seconds=HEALTHY_RESET - 1) == 6
    assert backoff.restarts_so_far(6, healthy_seconds=HEALTHY_RESET) == 0


def _controller(db: Database, tmp_path: Path, clock: Callable[[], float],
                sleep: Callable[[float], Awaitable[None]]) -> EndpointController:
    """A controller over fakes, with endpoint ``EP`` created (one instance once reconciled)."""
    state = app_state(db, tmp_path)
    ctx = context(state)
    add_model(ctx, "good", "image:good")
    add_config(ctx, "cfg", "good")
    create_endpoint(ctx, {"EndpointName": EP.name, "EndpointConfigName": "cfg"})
    return EndpointController(
        db, state.settings.limits, Router(), FakePreparer(),  # type: ignore[arg-type]
        FakeLauncher(LogStore(tmp_path / "logs")),  # type: ignore[arg-type]
        backoff=RestartBackoff(reset_after_seconds=HEALTHY_RESET), clock=clock, sleep=sleep)


def test_the_controller_resets_the_delay_after_a_healthy_run(sqlite_db: Database, tmp_path: Path) -> None:
    now = [0.0]
    delays: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        delays.append(seconds)

    controller = _controller(sqlite_db, tmp_path, lambda: now[0], recording_sleep)

    async def crash_after(running_seconds: float) -> None:
        now[0] += running_seconds
        variant = next(iter(controller.deployments[EP].variants.values()))
        instance: Instance = variant.instances[0]
        instance.process = ExitedProcess()  # type: ignore[assignment]
        controller._replace_crashed(EP, variant, instance)
        while controller._tasks:
            await asyncio.gather(*list(controller._tasks))
        assert len(variant.instances) == 1

    async def scenario() -> None:
        await controller.reconcile(EP)
        for _ in range(7):
            await crash_after(1.0)
        await crash_after(HEALTHY_RESET)
        await crash_after(1.0)

    asyncio.run(scenario())
    assert delays == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 0.0, 1.0]


def test_a_crashed_instance_is_replaced_even_with_a_call_still_counted_on_it(sqlite_db: Database,
                                                                             tmp_path: Path) -> None:
    """A call counted on an instance whose process has exited cannot finish there: the replacement does
    not wait for it (before, a count left raised held the replacement back for good)."""

    async def no_sleep(seconds: float) -> None:
        return None

    controller = _controller(sqlite_db, tmp_path, lambda: 0.0, no_sleep)

    async def scenario() -> list[Instance]:
        await controller.reconcile(EP)
        variant = next(iter(controller.deployments[EP].variants.values()))
        crashed: Instance = variant.instances[0]
        crashed.process = ExitedProcess()  # type: ignore[assignment]
        crashed.client.outstanding = 1
        controller._replace_crashed(EP, variant, crashed)
        while controller._tasks:
            await asyncio.wait_for(asyncio.gather(*list(controller._tasks)), 10)
        return [crashed, *variant.instances]

    crashed, *running = asyncio.run(scenario())
    assert len(running) == 1 and running[0] is not crashed
