"""SQL of Application Auto Scaling: scalable targets, their scaling policies and scaling activities,
each stored as the document its Describe call shows, per account and region."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, delete, insert, select, update

from modelyard.store.alarms import delete_alarms
from modelyard.store.tables import scalable_targets, scaling_activities, scaling_policies


class TargetKey(NamedTuple):
    """What names a scalable target."""

    account: str
    region: str
    namespace: str
    resource_id: str
    dimension: str


class TargetRow(NamedTuple):
    """One stored scalable target and the autoscaler's state of it (last scale-out and -in, the
    activity in progress)."""

    key: TargetKey
    document: dict[str, Any]
    scaling: dict[str, Any]


class PolicyRow(NamedTuple):
    """One stored scaling policy."""

    key: TargetKey
    name: str
    arn: str
    document: dict[str, Any]


def _where(table: Any, key: TargetKey) -> list[Any]:
    c = table.c
    return [c.account == key.account, c.region == key.region, c.namespace == key.namespace,
            c.resource_id == key.resource_id, c.dimension == key.dimension]


def _key(row: Any) -> TargetKey:
    return TargetKey(row.account, row.region, row.namespace, row.resource_id, row.dimension)


def _target(row: Any) -> TargetRow:
    return TargetRow(_key(row), json.loads(row.document), json.loads(row.scaling))


def _policy(row: Any) -> PolicyRow:
    return PolicyRow(_key(row), row.name, row.arn, json.loads(row.document))


# targets

def put_target(conn: Connection, key: TargetKey, document: dict[str, Any]) -> bool:
    """Create or replace a target's document (its scaling state is kept); True when it is new."""
    if conn.execute(update(scalable_targets).where(*_where(scalable_targets, key))
                    .values(document=json.dumps(document))).rowcount:
        return False
    conn.execute(insert(scalable_targets).values(**key._asdict(), document=json.dumps(document), scaling="{}"))
    return True


def get_target(conn: Connection, key: TargetKey) -> TargetRow | None:
    """One target, or None."""
    row = conn.execute(select(scalable_targets).where(*_where(scalable_targets, key))).first()
    return _target(row) if row is not None else None


def list_targets(conn: Connection, account: str, region: str, namespace: str, *,
                 resource_ids: Sequence[str] | None = None, dimension: str | None = None) -> list[TargetRow]:
    """The targets of a namespace, filtered, by resource id and dimension."""
    c = scalable_targets.c
    query = select(scalable_targets).where(c.account == account, c.region == region, c.namespace == namespace)
    if resource_ids is not None:
        query = query.where(c.resource_id.in_(list(resource_ids)))
    if dimension is not None:
        query = query.where(c.dimension == dimension)
    return [_target(row) for row in conn.execute(query.order_by(c.resource_id, c.dimension))]


def all_targets(conn: Connection) -> list[TargetRow]:
    """Every target of every account (for the autoscaler)."""
    return [_target(row) for row in conn.execute(select(scalable_targets))]


def set_scaling(conn: Connection, key: TargetKey, scaling: dict[str, Any]) -> None:
    """Store the autoscaler's state of a target."""
    conn.execute(update(scalable_targets).where(*_where(scalable_targets, key)).values(scaling=json.dumps(scaling)))


def delete_target(conn: Connection, key: TargetKey) -> list[PolicyRow]:
    """Delete a target with its policies (its activities stay, as AWS keeps them); the policies deleted."""
    policies = policies_of(conn, key)
    conn.execute(delete(scaling_policies).where(*_where(scaling_policies, key)))
    conn.execute(delete(scalable_targets).where(*_where(scalable_targets, key)))
    return policies


# policies

def put_policy(conn: Connection, key: TargetKey, name: str, arn: str, document: dict[str, Any]) -> None:
    """Create or replace a target's policy (a replaced policy keeps its ARN: pass the stored one)."""
    where = [*_where(scaling_policies, key), scaling_policies.c.name == name]
    if conn.execute(update(scaling_policies).where(*where).values(document=json.dumps(document))).rowcount:
        return
    conn.execute(insert(scaling_policies).values(**key._asdict(), name=name, arn=arn, document=json.dumps(document)))


def get_policy(conn: Connection, key: TargetKey, name: str) -> PolicyRow | None:
    """A target's policy by name, or None."""
    row = conn.execute(select(scaling_policies).where(*_where(scaling_policies, key),
                                                      scaling_policies.c.name == name)).first()
    return _policy(row) if row is not None else None


def policy_by_arn(conn: Connection, arn: str) -> PolicyRow | None:
    """A policy by its ARN (an alarm action), or None."""
    row = conn.execute(select(scaling_policies).where(scaling_policies.c.arn == arn)).first()
    return _policy(row) if row is not None else None


def policies_of(conn: Connection, key: TargetKey) -> list[PolicyRow]:
    """A target's policies by name."""
    return [_policy(row) for row in conn.execute(
        select(scaling_policies).where(*_where(scaling_policies, key)).order_by(scaling_policies.c.name))]


def list_policies(conn: Connection, account: str, region: str, namespace: str, *, resource_id: str | None = None,
                  dimension: str | None = None, names: Sequence[str] | None = None) -> list[PolicyRow]:
    """The policies of a namespace, filtered, by resource id, dimension and name."""
    c = scaling_policies.c
    query = select(scaling_policies).where(c.account == account, c.region == region, c.namespace == namespace)
    if resource_id is not None:
        query = query.where(c.resource_id == resource_id)
    if dimension is not None:
        query = query.where(c.dimension == dimension)
    if names is not None:
        query = query.where(c.name.in_(list(names)))
    return [_policy(row) for row in conn.execute(query.order_by(c.resource_id, c.dimension, c.name))]


def delete_policy(conn: Connection, key: TargetKey, name: str) -> bool:
    """Delete a target's policy; whether it existed."""
    return bool(conn.execute(delete(scaling_policies).where(*_where(scaling_policies, key),
                                                            scaling_policies.c.name == name)).rowcount)


def delete_tracking_alarms(conn: Connection, policies: Sequence[PolicyRow]) -> None:
    """Delete the alarms target-tracking policies created (step scaling alarms are the user's)."""
    for policy in policies:
        if policy.document.get("PolicyType") == "TargetTrackingScaling":
            names = [alarm["AlarmName"] for alarm in policy.document.get("Alarms", [])]
            if names:
                delete_alarms(conn, policy.key.account, policy.key.region, names)


# activities

def add_activity(conn: Connection, key: TargetKey, document: dict[str, Any]) -> None:
    """Record a scaling activity (``document["ActivityId"]`` names it)."""
    conn.execute(insert(scaling_activities).values(
        id=document["ActivityId"], account=key.account, region=key.region, namespace=key.namespace,
        resource_id=key.resource_id, started_at=document["StartTime"], document=json.dumps(document)))


def update_activity(conn: Connection, document: dict[str, Any]) -> None:
    """Store an activity's new status."""
    conn.execute(update(scaling_activities).where(scaling_activities.c.id == document["ActivityId"])
                 .values(document=json.dumps(document)))


def list_activities(conn: Connection, account: str, region: str, namespace: str, *,
                    resource_id: str | None = None) -> list[dict[str, Any]]:
    """The activities of a namespace (of one resource when given), newest first."""
    c = scaling_activities.c
    query = select(scaling_activities.c.document).where(c.account == account, c.region == region,
                                                        c.namespace == namespace)
    if resource_id is not None:
        query = query.where(c.resource_id == resource_id)
    return [json.loads(row.document) for row in conn.execute(query.order_by(c.started_at.desc(), c.id))]
