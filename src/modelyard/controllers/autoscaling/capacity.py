"""An endpoint variant's instance count as the autoscaler reads and changes it: the same desired
state UpdateEndpointWeightsAndCapacities writes (the endpoint goes Updating; its controller scales the
variant in place, new instances healthy before they take calls, old ones drained before they stop)."""

from __future__ import annotations

from sqlalchemy import Connection

from modelyard.desired.endpoints import EndpointDesired
from modelyard.store.patches import Patch, patch_record
from modelyard.store.resources import Record, get_record

KIND = "endpoint"


def desired_of(endpoint: Record) -> EndpointDesired:
    """What the endpoint should run."""
    if endpoint.desired is None:
        return EndpointDesired(endpoint.document["EndpointConfigName"])
    return EndpointDesired.from_json(endpoint.desired)


def desired_count(conn: Connection, endpoint: Record, variant: str) -> int | None:
    """The variant's desired instance count (None: the endpoint has no such instance-based variant)."""
    desired = desired_of(endpoint)
    override = desired.weights.get(variant, {})
    if "DesiredInstanceCount" in override:
        return int(override["DesiredInstanceCount"])
    config = get_record(conn, endpoint.account, endpoint.region, "endpoint-config", desired.config)
    for shown in (config.document.get("ProductionVariants", []) if config else []):
        if shown["VariantName"] == variant and "InitialInstanceCount" in shown:
            return int(shown["InitialInstanceCount"])
    return None


def current_count(endpoint: Record, variant: str) -> int | None:
    """The variant's running instances as DescribeEndpoint shows them."""
    for shown in endpoint.document.get("ProductionVariants", []):
        if shown["VariantName"] == variant:
            count = shown.get("CurrentInstanceCount")
            return None if count is None else int(count)
    return None


def set_count(conn: Connection, endpoint: Record, variant: str, count: int, now: float) -> bool:
    """Ask for ``count`` instances of the variant if the endpoint is still InService; whether it was asked."""

    def change(current: Record) -> Patch:
        desired = desired_of(current)
        weights = dict(desired.weights)
        weights[variant] = {**weights.get(variant, {}), "DesiredInstanceCount": count}
        return Patch({"EndpointStatus": "Updating"}, desired=desired.with_weights(weights).to_json())

    return patch_record(conn, endpoint.account, endpoint.region, KIND, endpoint.name, change,
                        status_field="EndpointStatus", now=now, expect=("InService",)) is not None
