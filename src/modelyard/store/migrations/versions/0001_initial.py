"""Initial schema: resources, tags, client tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resources",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("arn", sa.String(2048), nullable=False),
        sa.Column("parent", sa.String(256)),
        sa.Column("version", sa.Integer),
        sa.Column("status", sa.String(64)),
        sa.Column("subtype", sa.String(64)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("modified_at", sa.Float, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.UniqueConstraint("account", "region", "kind", "name", name="uq_resources_name"),
        sa.UniqueConstraint("arn", name="uq_resources_arn"),
        sa.UniqueConstraint("account", "region", "kind", "parent", "version", name="uq_resources_version"),
    )
    op.create_index("ix_resources_parent_created", "resources",
                    ["account", "region", "kind", "parent", "created_at"])
    op.create_index("ix_resources_kind_created", "resources", ["account", "region", "kind", "created_at"])
    op.create_table(
        "tags",
        sa.Column("resource_id", sa.Integer, sa.ForeignKey("resources.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )
    op.create_table(
        "client_tokens",
        sa.Column("account", sa.String(12), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("operation", sa.String(128), primary_key=True),
        sa.Column("token", sa.String(128), primary_key=True),
        sa.Column("arn", sa.String(2048), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("client_tokens")
    op.drop_table("tags")
    op.drop_index("ix_resources_kind_created", "resources")
    op.drop_index("ix_resources_parent_created", "resources")
    op.drop_table("resources")
