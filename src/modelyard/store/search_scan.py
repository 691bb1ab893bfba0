"""Candidate rows for Search: every resource of one kind, narrowed in SQL before documents are decoded.

A ``Scan`` narrows by the indexed columns (exact name, parent, status) and by text the stored
document must contain. The narrowing only ever drops rows that cannot match, so the caller still
applies the full SearchExpression to what comes back::

    Scan(kind="training-job", contains=("s3://b/out/model.tar.gz",))
        -> rows whose document text holds that value (as the store wrote it: JSON-escaped)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from modelyard.store.resources import Record, row_to_record
from modelyard.store.tables import resources


@dataclass(frozen=True)
class Scan:
    """Which rows of one kind may match a search."""

    account: str
    region: str
    kind: str
    name: str | None = None
    parent: str | None = None
    status: str | None = None
    contains: tuple[str, ...] = ()
    """Values the document must hold, exactly (an ``Equals`` filter's value)."""


def _holds(conn: Connection, text: Any, value: str) -> ColumnElement[bool]:
    """``text`` contains ``value`` as the store writes it (JSON-escaped), by the database's substring
    search (much faster than a ``LIKE '%...%'`` scan)."""
    stored = json.dumps(value)[1:-1]
    position = func.strpos if conn.dialect.name == "postgresql" else func.instr
    return position(text, stored) > 0


def scan_records(conn: Connection, scan: Scan) -> list[Record]:
    """The rows ``scan`` allows, oldest first, without their desired state (never shown by Search)."""
    conditions = [resources.c.account == scan.account, resources.c.region == scan.region,
                  resources.c.kind == scan.kind]
    for column, value in ((resources.c.name, scan.name), (resources.c.parent, scan.parent),
                          (resources.c.status, scan.status)):
        if value is not None:
            conditions.append(column == value)
    for value in scan.contains:
        conditions.append(_holds(conn, resources.c.document, value))
    columns = [column for column in resources.c if column.name != "desired"]
    rows = conn.execute(select(*columns).where(*conditions).order_by(resources.c.created_at, resources.c.id)).all()
    return [row_to_record(row) for row in rows]
