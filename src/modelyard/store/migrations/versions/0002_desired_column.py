"""Private state out of described documents: a ``desired`` column on ``resources``.

Members whose names start with ``_`` move from each document into ``desired``, in the shape
``modelyard.desired`` reads (spelled out here: a migration never imports live code).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# kind -> (private document member, desired member)
_MOVES: dict[str, tuple[tuple[str, str], ...]] = {
    "endpoint": (("_DesiredConfig", "config"), ("_DesiredWeights", "weights")),
    "transform-job": (("_Containers", "containers"), ("_NetworkIsolation", "network_isolation")),
    "model": (("_ResolvedContainers", "resolved_containers"),),
    "model-package-group": (("_LastVersion", "last_version"),),
}

_table = sa.table("resources", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                  sa.column("document", sa.Text), sa.column("desired", sa.Text))


def _split(kind: str, document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    public = {key: value for key, value in document.items() if not key.startswith("_")}
    desired = {target: document[source] for source, target in _MOVES.get(kind, ()) if source in document}
    return public, desired


def _join(kind: str, document: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    restored = {source: desired[target] for source, target in _MOVES.get(kind, ()) if target in desired}
    return {**document, **restored}


def upgrade() -> None:
    with op.batch_alter_table("resources") as batch:
        batch.add_column(sa.Column("desired", sa.Text, nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.select(_table.c.id, _table.c.kind, _table.c.document)).all()
    for row in rows:
        document = json.loads(row.document)
        if not any(key.startswith("_") for key in document):
            continue
        public, desired = _split(row.kind, document)
        conn.execute(sa.update(_table).where(_table.c.id == row.id).values(
            document=json.dumps(public), desired=json.dumps(desired) if desired else None))


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_table.c.id, _table.c.kind, _table.c.document, _table.c.desired)
                        .where(_table.c.desired.is_not(None))).all()
    for row in rows:
        document = _join(row.kind, json.loads(row.document), json.loads(row.desired))
        conn.execute(sa.update(_table).where(_table.c.id == row.id).values(document=json.dumps(document)))
    with op.batch_alter_table("resources") as batch:
        batch.drop_column("desired")
