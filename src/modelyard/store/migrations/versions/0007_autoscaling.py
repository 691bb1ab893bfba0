"""Application Auto Scaling: scalable targets, scaling policies and scaling activities.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _target_columns() -> list[sa.Column[str]]:
    return [sa.Column("account", sa.String(12), primary_key=True),
            sa.Column("region", sa.String(32), primary_key=True),
            sa.Column("namespace", sa.String(32), primary_key=True),
            sa.Column("resource_id", sa.String(1600), primary_key=True),
            sa.Column("dimension", sa.String(128), primary_key=True)]


def upgrade() -> None:
    op.create_table(
        "scalable_targets", *_target_columns(),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("scaling", sa.Text, nullable=False),
    )
    op.create_table(
        "scaling_policies", *_target_columns(),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("arn", sa.String(2048), nullable=False, unique=True),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_table(
        "scaling_activities",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("namespace", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(1600), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_index("ix_scaling_activities_target", "scaling_activities",
                    ["account", "region", "namespace", "resource_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_scaling_activities_target", "scaling_activities")
    op.drop_table("scaling_activities")
    op.drop_table("scaling_policies")
    op.drop_table("scalable_targets")
