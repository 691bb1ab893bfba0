"""The endpoint controller driven in process: real store, services, router and log store; test doubles
for the Preparer and Launcher (``endpoint_doubles``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from modelyard.context import AppState
from modelyard.controllers.endpoints.controller import EndpointController
from modelyard.controllers.reconciler import ResourceKey
from modelyard.hosting.router import Router
from modelyard.logstore import LogStore
from modelyard.services.endpoints import create_endpoint, delete_endpoint, describe_endpoint, update_endpoint
from modelyard.store.database import Database
from modelyard.store.resources import get_record
from tests.controllers.conftest import ACCOUNT, REGION, app_state, context
from tests.controllers.endpoint_doubles import NEVER_READY, UNPREPARABLE, FakeLauncher, FakePreparer
from tests.controllers.resources import add_config, add_model

EP = ResourceKey(ACCOUNT, REGION, "ep")


def _setup(db: Database, tmp_path: Path, *, deploy: bool = True) -> tuple[AppState, EndpointController, FakeLauncher]:
    """An endpoint ``ep`` on config ``old`` (model ``good``), deployed by one reconcile pass unless ``deploy``
    is False."""
    state = app_state(db, tmp_path)
    launcher = FakeLauncher(LogStore(tmp_path / "logs"))
    controller = EndpointController(db, state.settings.limits, Router(), FakePreparer(), launcher)  # type: ignore[arg-type]
    ctx = context(state)
    add_model(ctx, "good", "image:good")
    add_config(ctx, "old", "good")
    create_endpoint(ctx, {"EndpointName": EP.name, "EndpointConfigName": "old"})
    if deploy:
        asyncio.run(controller.reconcile(EP))
    return state, controller, launcher


def _described(state: AppState) -> dict:  # type: ignore[type-arg]
    return describe_endpoint(context(state), {"EndpointName": EP.name})


def _served_by(controller: EndpointController) -> list[str]:
    routes = controller.router.get(*EP)
    assert routes is not None
    return [client.instance_id for v in routes.variants.values() for client in v.instances]  # type: ignore[attr-defined]


def test_create_reaches_in_service(db: Database, tmp_path: Path) -> None:
    state, controller, launcher = _setup(db, tmp_path)

    described = _described(state)
    assert described["EndpointStatus"] == "InService" and described["EndpointConfigName"] == "old"
    assert _served_by(controller) == [launcher.started[0].instance_id]


def test_a_variant_the_placement_can_never_hold_fails_before_any_instance_starts(db: Database,
                                                                                  tmp_path: Path) -> None:
    state, controller, launcher = _setup(db, tmp_path, deploy=False)
    launcher.capacity = 2
    add_config(context(state), "three", "good", count=3)
    delete_endpoint(context(state), {"EndpointName": EP.name})
    asyncio.run(controller.reconcile(EP))
    create_endpoint(context(state), {"EndpointName": EP.name, "EndpointConfigName": "three"})
    asyncio.run(controller.reconcile(EP))

    described = _described(state)
    assert described["EndpointStatus"] == "Failed"
    assert "can never hold 3 instances of ml.m5.large: at most 2" in described["FailureReason"]
    assert launcher.started == []


@pytest.mark.parametrize("image", [UNPREPARABLE, NEVER_READY])
def test_failed_update_rolls_back_to_the_old_config(db: Database, tmp_path: Path, image: str) -> None:
    state, controller, launcher = _setup(db, tmp_path)
    old_instance = launcher.started[0]
    add_model(context(state), "broken", image)
    add_config(context(state), "new", "broken")

    update_endpoint(context(state), {"EndpointName": EP.name, "EndpointConfigName": "new"})
    assert _described(state)["EndpointStatus"] == "Updating"
    asyncio.run(controller.reconcile(EP))

    described = _described(state)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "old"
    assert image in described["FailureReason"]
    assert _served_by(controller) == [old_instance.instance_id]
    assert old_instance not in launcher.stopped
    assert all(i in launcher.stopped for i in launcher.started if i.prepared.plan.image == image)
    with db.session() as conn:
        record = get_record(conn, ACCOUNT, REGION, "endpoint", EP.name)
    assert record is not None and record.desired == {"config": "old", "weights": {}}

    asyncio.run(controller.reconcile(EP))
    assert _served_by(controller) == [old_instance.instance_id]
    assert _described(state)["EndpointStatus"] == "InService"


def test_delete_landing_mid_deployment_is_not_overwritten(db: Database, tmp_path: Path) -> None:
    state, controller, launcher = _setup(db, tmp_path, deploy=False)

    def delete_once() -> None:
        launcher.on_start = None
        delete_endpoint(context(state), {"EndpointName": EP.name})

    launcher.on_start = delete_once
    asyncio.run(controller.reconcile(EP))
    assert _described(state)["EndpointStatus"] == "Deleting"

    asyncio.run(controller.reconcile(EP))
    with db.session() as conn:
        assert get_record(conn, ACCOUNT, REGION, "endpoint", EP.name) is None
    assert controller.router.get(*EP) is None
    assert launcher.stopped == launcher.started
