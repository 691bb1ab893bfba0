"""Repository functions for resources: insert, get, update, delete, filtered keyset-paginated queries.

A ``Record`` is a row with its document decoded; services convert records to wire shapes.
Pagination tokens (``modelyard.page_tokens``) carry keyset positions (sort value, id) for one kind,
sort column and order, so a deep page costs the same as the first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from modelyard.page_tokens import (
    InvalidPageToken,
    decode_token,
    encode_token,
    expect_int,
    expect_list,
    expect_number,
    expect_str,
)
from modelyard.store.tables import resources

ANY = object()
"""Filter sentinel: do not filter on this column (``None`` means "IS NULL")."""

_SORT_COLUMNS = {
    "name": resources.c.name,
    "created_at": resources.c.created_at,
    "status": resources.c.status,
    "version": resources.c.version,
    "modified_at": resources.c.modified_at,
    "parent": resources.c.parent,
}


InvalidToken = InvalidPageToken
"""A NextToken that this store did not issue for this query."""

_SORT_VALUE_CHECKS: dict[str, Callable[[Any], Any]] = {
    "name": expect_str,
    "created_at": expect_number,
    "status": lambda value: None if value is None else expect_str(value),
    "version": lambda value: None if value is None else expect_int(value, minimum=-2**31),
    "modified_at": expect_number,
    "parent": lambda value: None if value is None else expect_str(value),
}


@dataclass(frozen=True)
class Record:
    """A stored resource."""

    id: int
    account: str
    region: str
    kind: str
    name: str
    arn: str
    parent: str | None
    version: int | None
    status: str | None
    subtype: str | None
    created_at: float
    modified_at: float
    document: dict[str, Any]
    desired: dict[str, Any] | None = None


@dataclass
class Query:
    """A filtered, sorted page request over one kind of resource."""

    account: str
    region: str
    kind: str
    parent: Any = ANY
    status: Any = ANY
    subtype: Any = ANY
    name_contains: str | None = None
    name_field: str = "name"
    created_after: float | None = None
    created_before: float | None = None
    modified_after: float | None = None
    modified_before: float | None = None
    sort: str = "created_at"
    descending: bool = False
    limit: int = 100
    token: str | None = None


def row_to_record(row: Any) -> Record:
    """A selected ``resources`` row as a Record (its JSON columns decoded)."""
    return Record(
        id=row.id, account=row.account, region=row.region, kind=row.kind, name=row.name, arn=row.arn,
        parent=row.parent, version=row.version, status=row.status, subtype=row.subtype,
        created_at=row.created_at, modified_at=row.modified_at, document=json.loads(row.document),
        desired=json.loads(row.desired) if getattr(row, "desired", None) is not None else None,
    )


def insert_record(
    conn: Connection, *, account: str, region: str, kind: str, name: str, arn: str,
    document: dict[str, Any], created_at: float, parent: str | None = None, version: int | None = None,
    status: str | None = None, subtype: str | None = None, desired: dict[str, Any] | None = None,
) -> Record:
    """Insert a resource; a duplicate name, ARN or version raises DuplicateKey from the session."""
    values = dict(account=account, region=region, kind=kind, name=name, arn=arn, parent=parent,
                  version=version, status=status, subtype=subtype, created_at=created_at,
                  modified_at=created_at, document=json.dumps(document, default=str),
                  desired=_encode_desired(desired))
    result = conn.execute(insert(resources).values(**values))
    record_id = result.inserted_primary_key[0]  # type: ignore[index]
    return Record(id=record_id, **{**values, "document": document, "desired": desired})  # type: ignore[arg-type]


def _encode_desired(desired: dict[str, Any] | None) -> str | None:
    return None if desired is None else json.dumps(desired, default=str)


def get_record(conn: Connection, account: str, region: str, kind: str, name: str) -> Record | None:
    """The resource of that kind and name, or None."""
    row = conn.execute(select(resources).where(
        resources.c.account == account, resources.c.region == region,
        resources.c.kind == kind, resources.c.name == name)).first()
    return row_to_record(row) if row else None


def get_record_by_arn(conn: Connection, arn: str, kind: str | None = None) -> Record | None:
    """The resource with that ARN (optionally of one kind), or None."""
    stmt = select(resources).where(resources.c.arn == arn)
    if kind is not None:
        stmt = stmt.where(resources.c.kind == kind)
    row = conn.execute(stmt).first()
    return row_to_record(row) if row else None


def get_records_by_arns(conn: Connection, arns: Sequence[str]) -> dict[str, Record]:
    """The resources with those ARNs, by ARN."""
    if not arns:
        return {}
    rows = conn.execute(select(resources).where(resources.c.arn.in_(list(arns)))).all()
    return {row.arn: row_to_record(row) for row in rows}


def update_record(
    conn: Connection, record: Record, *, document: dict[str, Any], modified_at: float,
    status: Any = ANY, subtype: Any = ANY, desired: Any = ANY,
) -> Record:
    """Replace a resource's document (and optionally status/subtype/desired state)."""
    values: dict[str, Any] = {"document": json.dumps(document, default=str), "modified_at": modified_at}
    if status is not ANY:
        values["status"] = status
    if subtype is not ANY:
        values["subtype"] = subtype
    if desired is not ANY:
        values["desired"] = _encode_desired(desired)
    conn.execute(update(resources).where(resources.c.id == record.id).values(**values))
    changes = {k: v for k, v in values.items() if k not in ("document", "desired")}
    kept = record.desired if desired is ANY else desired
    return Record(**{**record.__dict__, **changes, "document": document, "desired": kept})


def delete_record(conn: Connection, record: Record) -> None:
    """Delete a resource (its tags go with it)."""
    from modelyard.store.tags import delete_all_tags

    delete_all_tags(conn, record.id)
    conn.execute(delete(resources).where(resources.c.id == record.id))


def get_record_for_update(conn: Connection, account: str, region: str, kind: str, name: str) -> Record | None:
    """The resource of that kind and name, row-locked until the transaction ends (SQLite's write
    transactions are exclusive already), or None."""
    row = conn.execute(select(resources).where(
        resources.c.account == account, resources.c.region == region,
        resources.c.kind == kind, resources.c.name == name).with_for_update()).first()
    return row_to_record(row) if row else None


def lock_record(conn: Connection, record: Record) -> None:
    """Hold the row lock of ``record`` until the transaction ends (a no-op on SQLite, whose write
    transactions are already exclusive)."""
    conn.execute(select(resources.c.id).where(resources.c.id == record.id).with_for_update())


def count_records(conn: Connection, account: str, region: str, kind: str, parent: str) -> int:
    """How many resources of a kind have this parent."""
    return conn.execute(select(func.count()).select_from(resources).where(
        resources.c.account == account, resources.c.region == region,
        resources.c.kind == kind, resources.c.parent == parent)).scalar_one()


def next_version(conn: Connection, account: str, region: str, kind: str, parent: str) -> int:
    """One more than the highest version under ``parent`` (1 for the first)."""
    current = conn.execute(select(func.max(resources.c.version)).where(
        resources.c.account == account, resources.c.region == region,
        resources.c.kind == kind, resources.c.parent == parent)).scalar_one()
    return (current or 0) + 1


def _filter(column: Any, value: Any) -> Any:
    if value is ANY:
        return None
    if value is None:
        return column.is_(None)
    if isinstance(value, (list, tuple, set, frozenset)):
        return column.in_(list(value))
    return column == value


def _token_kind(query: Query) -> str:
    return f"resources:{query.kind}/{query.sort}/{'desc' if query.descending else 'asc'}"


def _decode_token(query: Query, token: str) -> tuple[Any, int]:
    try:
        sort_value, record_id = expect_list(decode_token(_token_kind(query), token), 2)
        return _SORT_VALUE_CHECKS[query.sort](sort_value), expect_int(record_id, minimum=1)
    except InvalidPageToken:
        raise InvalidToken(f"Invalid pagination token '{token}'") from None


def query_records(conn: Connection, query: Query) -> tuple[list[Record], str | None]:
    """One page of resources matching ``query`` and the token of the next page (None at the end)."""
    column = _SORT_COLUMNS[query.sort]
    conditions = [resources.c.account == query.account, resources.c.region == query.region,
                  resources.c.kind == query.kind]
    for col, value in ((resources.c.parent, query.parent), (resources.c.status, query.status),
                       (resources.c.subtype, query.subtype)):
        clause = _filter(col, value)
        if clause is not None:
            conditions.append(clause)
    if query.name_contains:
        escaped = query.name_contains.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(func.lower(resources.c[query.name_field]).like(f"%{escaped}%", escape="\\"))
    for col, low, high in ((resources.c.created_at, query.created_after, query.created_before),
                           (resources.c.modified_at, query.modified_after, query.modified_before)):
        if low is not None:
            conditions.append(col > low)
        if high is not None:
            conditions.append(col < high)
    if query.token:
        sort_value, last_id = _decode_token(query, query.token)
        if query.descending:
            conditions.append(or_(column < sort_value, and_(column == sort_value, resources.c.id < last_id)))
        else:
            conditions.append(or_(column > sort_value, and_(column == sort_value, resources.c.id > last_id)))
    order = (column.desc(), resources.c.id.desc()) if query.descending else (column.asc(), resources.c.id.asc())
    rows = conn.execute(select(resources).where(*conditions).order_by(*order).limit(query.limit + 1)).all()
    records = [row_to_record(row) for row in rows[: query.limit]]
    token = None
    if len(rows) > query.limit:
        last = records[-1]
        token = encode_token(_token_kind(query), [getattr(last, query.sort), last.id])
    return records, token


def all_records(conn: Connection, account: str, region: str, kind: str) -> list[Record]:
    """Every resource of a kind in an account and region, oldest first."""
    rows = conn.execute(select(resources).where(
        resources.c.account == account, resources.c.region == region, resources.c.kind == kind,
    ).order_by(resources.c.created_at, resources.c.id)).all()
    return [row_to_record(row) for row in rows]


def records_of_kind(conn: Connection, kind: str) -> list[Record]:
    """Every resource of a kind across accounts and regions (controllers use this at start-up)."""
    rows = conn.execute(select(resources).where(resources.c.kind == kind).order_by(resources.c.id)).all()
    return [row_to_record(row) for row in rows]


def children_of(conn: Connection, account: str, region: str, kind: str, parent: str) -> list[Record]:
    """Every resource of a kind with this parent, oldest first."""
    rows = conn.execute(select(resources).where(
        resources.c.account == account, resources.c.region == region, resources.c.kind == kind,
        resources.c.parent == parent).order_by(resources.c.created_at, resources.c.id)).all()
    return [row_to_record(row) for row in rows]


def records_with_status(conn: Connection, kind: str, statuses: Sequence[str]) -> list[Record]:
    """Every resource of a kind whose status column is one of ``statuses``, across accounts and regions."""
    rows = conn.execute(select(resources).where(resources.c.kind == kind, resources.c.status.in_(list(statuses)))
                        .order_by(resources.c.id)).all()
    return [row_to_record(row) for row in rows]
