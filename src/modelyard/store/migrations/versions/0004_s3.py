"""modelyard's own S3: buckets, objects, multipart uploads and their parts (bytes live as files).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

KEY = sa.String(1024).with_variant(sa.String(1024, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "s3_buckets",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("account", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_s3_buckets_account", "s3_buckets", ["account", "name"])
    op.create_table(
        "s3_objects",
        sa.Column("bucket", sa.String(63), sa.ForeignKey("s3_buckets.name"), primary_key=True),
        sa.Column("key", KEY, primary_key=True),
        sa.Column("blob", sa.String(32), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(256)),
        sa.Column("headers", sa.Text),
        sa.Column("metadata", sa.Text),
        sa.Column("checksum_algorithm", sa.String(16)),
        sa.Column("checksum", sa.String(128)),
        sa.Column("parts", sa.Integer),
        sa.Column("modified_at", sa.Float, nullable=False),
    )
    op.create_table(
        "s3_uploads",
        sa.Column("upload_id", sa.String(64), primary_key=True),
        sa.Column("bucket", sa.String(63), sa.ForeignKey("s3_buckets.name"), nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("content_type", sa.String(256)),
        sa.Column("headers", sa.Text),
        sa.Column("metadata", sa.Text),
        sa.Column("checksum_algorithm", sa.String(16)),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_s3_uploads_bucket_key", "s3_uploads", ["bucket", "key"])
    op.create_table(
        "s3_parts",
        sa.Column("upload_id", sa.String(64), sa.ForeignKey("s3_uploads.upload_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("part_number", sa.Integer, primary_key=True),
        sa.Column("blob", sa.String(32), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("checksum", sa.String(128)),
        sa.Column("modified_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("s3_parts")
    op.drop_table("s3_uploads")
    op.drop_table("s3_objects")
    op.drop_index("ix_s3_buckets_account", "s3_buckets")
    op.drop_table("s3_buckets")
