"""Repository functions for resource tags and idempotency (client) tokens."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, delete, insert, select, update

from modelyard.store.tables import client_tokens, tags


def get_tags(conn: Connection, resource_id: int) -> list[dict[str, str]]:
    """A resource's tags as ``[{"Key", "Value"}]`` sorted by key."""
    rows = conn.execute(select(tags.c.key, tags.c.value).where(tags.c.resource_id == resource_id)
                        .order_by(tags.c.key)).all()
    return [{"Key": row.key, "Value": row.value} for row in rows]


def put_tags(conn: Connection, resource_id: int, new_tags: Mapping[str, str]) -> None:
    """Add or overwrite tags."""
    existing = {t["Key"] for t in get_tags(conn, resource_id)}
    for key, value in new_tags.items():
        if key in existing:
            conn.execute(update(tags).where(tags.c.resource_id == resource_id, tags.c.key == key)
                         .values(value=value))
        else:
            conn.execute(insert(tags).values(resource_id=resource_id, key=key, value=value))


def remove_tags(conn: Connection, resource_id: int, keys: Iterable[str]) -> None:
    """Remove tags by key; absent keys are ignored."""
    keys = list(keys)
    if keys:
        conn.execute(delete(tags).where(tags.c.resource_id == resource_id, tags.c.key.in_(keys)))


def delete_all_tags(conn: Connection, resource_id: int) -> None:
    """Remove every tag of a resource."""
    conn.execute(delete(tags).where(tags.c.resource_id == resource_id))


def find_client_token(conn: Connection, account: str, region: str, operation: str, token: str) -> str | None:
    """The ARN a previous request with this client token created, if any."""
    return conn.execute(select(client_tokens.c.arn).where(
        client_tokens.c.account == account, client_tokens.c.region == region,
        client_tokens.c.operation == operation, client_tokens.c.token == token)).scalar_one_or_none()


def remember_client_token(conn: Connection, account: str, region: str, operation: str, token: str,
                          arn: str) -> None:
    """Record that ``token`` created ``arn`` (a concurrent duplicate raises DuplicateKey)."""
    conn.execute(insert(client_tokens).values(account=account, region=region, operation=operation,
                                              token=token, arn=arn, created_at=time.time()))


def tags_of(conn: Connection, resource_ids: Iterable[int]) -> dict[int, list[dict[str, str]]]:
    """The tags of many resources at once (``{id: [{"Key", "Value"}]}``, keys sorted; untagged ids absent)."""
    ids = list(resource_ids)
    found: dict[int, list[dict[str, str]]] = {}
    for start in range(0, len(ids), _IDS_PER_QUERY):
        chunk = ids[start:start + _IDS_PER_QUERY]
        rows = conn.execute(select(tags.c.resource_id, tags.c.key, tags.c.value)
                            .where(tags.c.resource_id.in_(chunk)).order_by(tags.c.resource_id, tags.c.key)).all()
        for row in rows:
            found.setdefault(row.resource_id, []).append({"Key": row.key, "Value": row.value})
    return found


_IDS_PER_QUERY = 500
