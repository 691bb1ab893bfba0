"""SQL of CloudWatch metric alarms: one row per alarm, its DescribeAlarms document and state."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, delete, func, insert, select, update

from modelyard.store.tables import metric_alarms


class AlarmRow(NamedTuple):
    """One stored alarm."""

    account: str
    region: str
    name: str
    document: dict[str, Any]
    state: str


def _row(row: Any) -> AlarmRow:
    return AlarmRow(row.account, row.region, row.name, json.loads(row.document), row.state)


def put_alarm(conn: Connection, account: str, region: str, document: dict[str, Any], now: float) -> bool:
    """Create or replace the alarm named in ``document``; True when it is new."""
    c = metric_alarms.c
    name = document["AlarmName"]
    values = {"document": json.dumps(document), "state": document["StateValue"], "updated_at": now}
    found = conn.execute(update(metric_alarms).where(c.account == account, c.region == region, c.name == name)
                         .values(**values)).rowcount
    if found:
        return False
    conn.execute(insert(metric_alarms).values(account=account, region=region, name=name, **values))
    return True


def get_alarm(conn: Connection, account: str, region: str, name: str) -> AlarmRow | None:
    """One alarm, or None."""
    c = metric_alarms.c
    row = conn.execute(select(metric_alarms).where(c.account == account, c.region == region, c.name == name)).first()
    return _row(row) if row is not None else None


def list_alarms(conn: Connection, account: str, region: str, *, names: Sequence[str] | None = None,
                prefix: str | None = None, state: str | None = None, after: str | None = None,
                limit: int | None = None) -> list[AlarmRow]:
    """Alarms of the account and region by name, filtered."""
    c = metric_alarms.c
    query = select(metric_alarms).where(c.account == account, c.region == region)
    if names is not None:
        query = query.where(c.name.in_(list(names)))
    if prefix:
        query = query.where(c.name.startswith(prefix, autoescape=True))
    if state:
        query = query.where(c.state == state)
    if after is not None:
        query = query.where(c.name > after)
    query = query.order_by(c.name)
    if limit is not None:
        query = query.limit(limit)
    return [_row(row) for row in conn.execute(query)]


def all_alarms(conn: Connection) -> list[AlarmRow]:
    """Every alarm of every account (for the evaluator)."""
    return [_row(row) for row in conn.execute(select(metric_alarms))]


def update_alarm(conn: Connection, account: str, region: str, document: dict[str, Any], now: float) -> bool:
    """Store a changed document (state) of an existing alarm; False when it is gone."""
    c = metric_alarms.c
    return bool(conn.execute(update(metric_alarms).where(
        c.account == account, c.region == region, c.name == document["AlarmName"]).values(
        document=json.dumps(document), state=document["StateValue"], updated_at=now)).rowcount)


def delete_alarms(conn: Connection, account: str, region: str, names: Sequence[str]) -> int:
    """Delete the named alarms; how many existed."""
    c = metric_alarms.c
    return int(conn.execute(delete(metric_alarms).where(c.account == account, c.region == region,
                                                         c.name.in_(list(names)))).rowcount or 0)


def count_alarms(conn: Connection, account: str, region: str) -> int:
    """How many alarms the account has in the region."""
    c = metric_alarms.c
    return int(conn.execute(select(func.count()).select_from(metric_alarms)
                            .where(c.account == account, c.region == region)).scalar_one())
