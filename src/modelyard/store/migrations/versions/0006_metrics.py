"""CloudWatch metrics (series and one-minute aggregates) and metric alarms.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_series",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("namespace", sa.String(256), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("dimensions", sa.Text, nullable=False),
        sa.Column("last_minute", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("account", "region", "namespace", "name", "dimensions", name="uq_metric_series"),
    )
    op.create_table(
        "metric_points",
        sa.Column("series_id", sa.Integer, sa.ForeignKey("metric_series.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("minute", sa.BigInteger, primary_key=True),
        sa.Column("unit", sa.String(32), primary_key=True),
        sa.Column("sample_count", sa.Float, nullable=False),
        sa.Column("total", sa.Float, nullable=False),
        sa.Column("minimum", sa.Float, nullable=False),
        sa.Column("maximum", sa.Float, nullable=False),
        sa.Column("histogram", sa.Text),
    )
    op.create_index("ix_metric_points_minute", "metric_points", ["minute"])
    op.create_table(
        "metric_alarms",
        sa.Column("account", sa.String(12), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("metric_alarms")
    op.drop_index("ix_metric_points_minute", "metric_points")
    op.drop_table("metric_points")
    op.drop_table("metric_series")
