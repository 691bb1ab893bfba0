"""The asynchronous-inference queue: one row per accepted InvokeEndpointAsync request until it is answered.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "async_invocations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("endpoint", sa.String(63), nullable=False),
        sa.Column("inference_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary),
    )
    op.create_index("ix_async_invocations_queue", "async_invocations", ["state", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_async_invocations_queue", table_name="async_invocations")
    op.drop_table("async_invocations")
