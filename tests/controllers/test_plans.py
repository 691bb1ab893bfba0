"""plan_variants on a real SQLite store: configs and models as the services store them."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.controllers.endpoints.plans import PlanError, plan_variants
from modelyard.desired.endpoints import EndpointDesired
from modelyard.services.endpoints import create_endpoint
from modelyard.services.models import delete_model
from modelyard.store.database import Database
from modelyard.store.resources import Record, get_record
from tests.controllers.conftest import ACCOUNT, REGION, app_state, context
from tests.controllers.resources import add_config, add_model


def _endpoint(db: Database, tmp_path: Path, config: str = "config") -> Record:
    state = app_state(db, tmp_path)
    create_endpoint(context(state), {"EndpointName": "ep", "EndpointConfigName": config})
    with db.session() as conn:
        record = get_record(conn, ACCOUNT, REGION, "endpoint", "ep")
    assert record is not None
    return record


def _plans(db: Database, desired: EndpointDesired, endpoint: Record):  # type: ignore[no-untyped-def]
    with db.session() as conn:
        return plan_variants(conn, endpoint, desired)


def test_plan_follows_the_config_and_model(sqlite_db: Database, tmp_path: Path) -> None:
    ctx = context(app_state(sqlite_db, tmp_path))
    add_model(ctx, "model", "image:1")
    add_config(ctx, "config", "model", count=2)
    endpoint = _endpoint(sqlite_db, tmp_path)

    [plan] = _plans(sqlite_db, EndpointDesired("config"), endpoint)

    assert (plan.name, plan.model_name, plan.instance_count, plan.weight) == ("main", "model", 2, 1.0)
    assert [c.image for c in plan.containers] == ["image:1"]
    assert plan.containers[0].model_data_url == "s3://bucket/model/model.tar.gz"


def test_overrides_change_counts_and_weights_not_the_fingerprint(sqlite_db: Database, tmp_path: Path) -> None:
    ctx = context(app_state(sqlite_db, tmp_path))
    add_model(ctx, "model", "image:1")
    add_config(ctx, "config", "model")
    endpoint = _endpoint(sqlite_db, tmp_path)

    [base] = _plans(sqlite_db, EndpointDesired("config"), endpoint)
    [scaled] = _plans(sqlite_db, EndpointDesired("config", {"main": {"DesiredInstanceCount": 3,
                                                                      "DesiredWeight": 0.5}}), endpoint)

    assert (scaled.instance_count, scaled.weight) == (3, 0.5)
    assert scaled.fingerprint == base.fingerprint


def test_another_model_changes_the_fingerprint(sqlite_db: Database, tmp_path: Path) -> None:
    ctx = context(app_state(sqlite_db, tmp_path))
    add_model(ctx, "one", "image:1")
    add_model(ctx, "two", "image:2")
    add_config(ctx, "config", "one")
    add_config(ctx, "other", "two")
    endpoint = _endpoint(sqlite_db, tmp_path)

    [first] = _plans(sqlite_db, EndpointDesired("config"), endpoint)
    [second] = _plans(sqlite_db, EndpointDesired("other"), endpoint)

    assert first.fingerprint != second.fingerprint


def test_missing_config_or_model_is_a_plan_error(sqlite_db: Database, tmp_path: Path) -> None:
    ctx = context(app_state(sqlite_db, tmp_path))
    add_model(ctx, "model", "image:1")
    add_config(ctx, "config", "model")
    endpoint = _endpoint(sqlite_db, tmp_path)

    with pytest.raises(PlanError, match='Could not find endpoint configuration "gone"'):
        _plans(sqlite_db, EndpointDesired("gone"), endpoint)
    delete_model(ctx, {"ModelName": "model"})
    with pytest.raises(PlanError, match='Could not find model "model" of variant main'):
        _plans(sqlite_db, EndpointDesired("config"), endpoint)
