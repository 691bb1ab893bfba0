"""Guarded updates driven in process (real store on SQLite and PostgreSQL, services, router, controller;
the Preparer and Launcher doubles of ``endpoint_doubles``), for what the server tests cannot wait for or
provoke: a rolling rollback whose old instances cannot restart (UpdateRollbackFailed), the
MaximumExecutionTimeoutInSeconds, and a DeleteEndpoint landing mid-deployment."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelyard.context import AppState
from modelyard.controllers.endpoints import rollout
from modelyard.controllers.endpoints.controller import EndpointController
from modelyard.controllers.reconciler import ResourceKey
from modelyard.hosting.router import Router
from modelyard.logstore import LogStore
from modelyard.services.endpoints import create_endpoint, delete_endpoint, describe_endpoint, update_endpoint
from modelyard.store import alarms as stored_alarms
from modelyard.store.database import Database
from modelyard.store.resources import get_record
from tests.controllers.conftest import ACCOUNT, REGION, app_state, context
from tests.controllers.endpoint_doubles import FakeLauncher, FakePreparer
from tests.controllers.resources import add_config, add_model

EP = ResourceKey(ACCOUNT, REGION, "ep")
ALARM = "errors"


class Clock:
    """A clock that only moves when the controller sleeps; ``on_sleep`` runs at each sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.on_sleep: Callable[[], None] | None = None

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep()
        await asyncio.sleep(0)


def _setup(db: Database, tmp_path: Path) -> tuple[AppState, EndpointController, FakeLauncher, Clock]:
    """Endpoint ``ep`` serving config ``old`` (2 instances of image:old), config ``new`` (2 of image:new), and
    alarm ``errors`` in state OK."""
    state = app_state(db, tmp_path)
    launcher = FakeLauncher(LogStore(tmp_path / "logs"))
    clock = Clock()
    controller = EndpointController(db, state.settings.limits, Router(), FakePreparer(), launcher,  # type: ignore[arg-type]
                                    clock=clock, sleep=clock.sleep)
    ctx = context(state)
    for name in ("old", "new"):
        add_model(ctx, name, f"image:{name}")
        add_config(ctx, name, name, count=2)
    create_endpoint(ctx, {"EndpointName": EP.name, "EndpointConfigName": "old"})
    asyncio.run(controller.reconcile(EP))
    with db.session(write=True) as conn:
        stored_alarms.put_alarm(conn, ACCOUNT, REGION, {"AlarmName": ALARM, "StateValue": "OK"}, 0.0)
    return state, controller, launcher, clock


def _set_alarm(db: Database, state: str) -> None:
    with db.session(write=True) as conn:
        stored_alarms.update_alarm(conn, ACCOUNT, REGION, {"AlarmName": ALARM, "StateValue": state,
                                                           "StateReason": "Threshold Crossed"}, 1.0)


def _rolling_update_watching_the_alarm(state: AppState, controller: EndpointController) -> None:
    """UpdateEndpoint to ``new``, one instance per batch, baking 30 s, rolled back by ``errors``; one pass."""
    update_endpoint(context(state), {"EndpointName": EP.name, "EndpointConfigName": "new", "DeploymentConfig": {
        "RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
                                "WaitIntervalInSeconds": 30},
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": ALARM}]}}})
    asyncio.run(controller.reconcile(EP))


def _described(state: AppState) -> dict[str, Any]:
    return describe_endpoint(context(state), {"EndpointName": EP.name})  # type: ignore[no-any-return]


def _served_images(controller: EndpointController) -> list[str]:
    routes = controller.router.get(*EP)
    assert routes is not None
    fleets = [routes] + ([routes.shift.green] if routes.shift is not None else [])
    return sorted(c.instance_id.split("#")[0] for f in fleets for v in f.variants.values()  # type: ignore[attr-defined]
                  for c in v.instances)


def test_rolling_rollback_that_cannot_restart_the_old_instances_is_update_rollback_failed(
        db: Database, tmp_path: Path) -> None:
    state, controller, launcher, clock = _setup(db, tmp_path)

    def alarm_fires_and_old_image_breaks() -> None:
        _set_alarm(db, "ALARM")
        launcher.failing.add("image:old")
    clock.on_sleep = alarm_fires_and_old_image_breaks
    _rolling_update_watching_the_alarm(state, controller)

    described = _described(state)
    assert described["EndpointStatus"] == "UpdateRollbackFailed"
    assert described["FailureReason"].startswith("Deployment of endpoint configuration new was rolled back: alarm "
                                                 "errors entered ALARM state (Threshold Crossed); the rollback could "
                                                 "not restart the old instances"), described["FailureReason"]
    assert _served_images(controller) == ["image:new", "image:old"], "the mix keeps serving"
    asyncio.run(controller.reconcile(EP))
    assert _described(state)["EndpointStatus"] == "UpdateRollbackFailed", "it waits for the next UpdateEndpoint"
    assert _served_images(controller) == ["image:new", "image:old"]

    launcher.failing.clear()
    _set_alarm(db, "OK")
    clock.on_sleep = None
    update_endpoint(context(state), {"EndpointName": EP.name, "EndpointConfigName": "new"})
    asyncio.run(controller.reconcile(EP))
    assert _described(state)["EndpointStatus"] == "InService"
    assert _served_images(controller) == ["image:new", "image:new"]
    running = [i for i in launcher.started if i not in launcher.stopped]
    assert sorted(i.instance_id.split("#")[0] for i in running) == ["image:new", "image:new"], "nothing leaked"


def test_deployment_past_its_maximum_execution_time_rolls_back(db: Database, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollout, "ALARM_POLL_SECONDS", 50.0)
    state, controller, launcher, _ = _setup(db, tmp_path)
    update_endpoint(context(state), {"EndpointName": EP.name, "EndpointConfigName": "new", "DeploymentConfig": {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
            "Type": "LINEAR", "WaitIntervalInSeconds": 400, "LinearStepSize": {"Type": "CAPACITY_PERCENT",
                                                                                 "Value": 50}},
            "MaximumExecutionTimeoutInSeconds": 600}}})
    asyncio.run(controller.reconcile(EP))

    described = _described(state)
    assert described["EndpointStatus"] == "InService" and described["EndpointConfigName"] == "old"
    assert described["FailureReason"] == ("Deployment of endpoint configuration new was rolled back: it did not "
                                          "finish within MaximumExecutionTimeoutInSeconds (600 s)")
    assert _served_images(controller) == ["image:old", "image:old"]
    assert all(i in launcher.stopped for i in launcher.started if i.instance_id.startswith("image:new"))
    with db.session() as conn:
        record = get_record(conn, ACCOUNT, REGION, "endpoint", EP.name)
    assert record is not None and record.desired == {"config": "old", "weights": {}}


def test_delete_landing_mid_deployment_stops_both_fleets(db: Database, tmp_path: Path) -> None:
    state, controller, launcher, clock = _setup(db, tmp_path)
    clock.on_sleep = lambda: delete_endpoint(context(state), {"EndpointName": EP.name})
    update_endpoint(context(state), {"EndpointName": EP.name, "EndpointConfigName": "new", "DeploymentConfig": {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE",
                                                                  "WaitIntervalInSeconds": 60}}}})
    asyncio.run(controller.reconcile(EP))
    assert all(i in launcher.stopped for i in launcher.started if i.instance_id.startswith("image:new"))
    asyncio.run(controller.reconcile(EP))
    assert controller.router.get(*EP) is None
    assert sorted(launcher.stopped, key=id) == sorted(launcher.started, key=id)
    with db.session() as conn:
        assert get_record(conn, ACCOUNT, REGION, "endpoint", EP.name) is None


def test_rolling_rollback_restarts_the_old_instances_and_stops_the_new(db: Database, tmp_path: Path) -> None:
    state, controller, launcher, clock = _setup(db, tmp_path)
    clock.on_sleep = lambda: _set_alarm(db, "ALARM")
    _rolling_update_watching_the_alarm(state, controller)

    described = _described(state)
    assert described["EndpointStatus"] == "InService" and described["EndpointConfigName"] == "old"
    assert "alarm errors entered ALARM state" in described["FailureReason"]
    assert _served_images(controller) == ["image:old", "image:old"]
    assert [i.instance_id.split("#")[0] for i in launcher.started].count("image:old") == 3, "one old one restarted"
    assert all(i in launcher.stopped for i in launcher.started if i.instance_id.startswith("image:new"))


def test_retain_deployment_config_reuses_the_last_one(db: Database, tmp_path: Path) -> None:
    state, controller, _, clock = _setup(db, tmp_path)
    deployment = {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE",
                                                                            "WaitIntervalInSeconds": 5}}}
    update_endpoint(context(state), {"EndpointName": EP.name, "EndpointConfigName": "new",
                                     "DeploymentConfig": deployment})
    asyncio.run(controller.reconcile(EP))
    baked = clock.now
    assert baked >= 5 and _described(state)["LastDeploymentConfig"] == deployment

    update_endpoint(context(state), {"EndpointName": EP.name, "EndpointConfigName": "old",
                                     "RetainDeploymentConfig": True})
    assert _described(state)["LastDeploymentConfig"] == deployment
    asyncio.run(controller.reconcile(EP))
    assert clock.now - baked >= 5, "the retained policy baked again"
    assert _described(state)["EndpointConfigName"] == "old"
