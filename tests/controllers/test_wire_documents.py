"""Described documents hold wire members only: private state lives in the desired column (both stores)."""

from __future__ import annotations

from pathlib import Path

from modelyard.services.endpoints import (
    create_endpoint,
    describe_endpoint,
    update_endpoint,
    update_endpoint_weights_and_capacities,
)
from modelyard.services.models import describe_model
from modelyard.services.transform_jobs import describe_transform_job, stop_transform_job
from modelyard.store.database import Database
from modelyard.store.patches import Patch, patch_record
from tests.controllers.conftest import ACCOUNT, REGION, app_state, context
from tests.controllers.resources import add_config, add_model, add_transform_job


def private_members(document: dict) -> list[str]:  # type: ignore[type-arg]
    return [key for key in document if key.startswith("_")]


def test_endpoint_documents_have_no_private_members(db: Database, tmp_path: Path) -> None:
    ctx = context(app_state(db, tmp_path))
    add_model(ctx, "model", "image:1")
    add_config(ctx, "one", "model")
    add_config(ctx, "two", "model")
    create_endpoint(ctx, {"EndpointName": "ep", "EndpointConfigName": "one"})
    assert private_members(describe_endpoint(ctx, {"EndpointName": "ep"})) == []
    with db.session(write=True) as conn:
        patch_record(conn, ACCOUNT, REGION, "endpoint", "ep", Patch({"EndpointStatus": "InService"}),
                     status_field="EndpointStatus")
    update_endpoint_weights_and_capacities(ctx, {"EndpointName": "ep", "DesiredWeightsAndCapacities": [
        {"VariantName": "main", "DesiredInstanceCount": 2}]})
    assert private_members(describe_endpoint(ctx, {"EndpointName": "ep"})) == []
    with db.session(write=True) as conn:
        patch_record(conn, ACCOUNT, REGION, "endpoint", "ep", Patch({"EndpointStatus": "InService"}),
                     status_field="EndpointStatus")
    update_endpoint(ctx, {"EndpointName": "ep", "EndpointConfigName": "two"})
    assert private_members(describe_endpoint(ctx, {"EndpointName": "ep"})) == []


def test_transform_and_model_documents_have_no_private_members(db: Database, tmp_path: Path) -> None:
    ctx = context(app_state(db, tmp_path))
    add_model(ctx, "model", "image:1")
    add_transform_job(ctx, "job", "model")
    assert private_members(describe_transform_job(ctx, {"TransformJobName": "job"})) == []
    stop_transform_job(ctx, {"TransformJobName": "job"})
    assert private_members(describe_transform_job(ctx, {"TransformJobName": "job"})) == []
    assert private_members(describe_model(ctx, {"ModelName": "model"})) == []
