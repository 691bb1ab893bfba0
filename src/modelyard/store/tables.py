"""Table definitions (SQLAlchemy Core).

``resources`` holds every SageMaker resource as its described document (wire members only) plus the
indexed columns queries filter and sort on, and ``desired``: the private state services hand to
controllers (``modelyard.desired``), never described; ``(account, region, kind, name)`` is unique, and so is a registry
version within its group. Tags and idempotency tokens live beside it.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

resources = Table(
    "resources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("name", String(512), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("parent", String(256)),
    Column("version", Integer),
    Column("status", String(64)),
    Column("subtype", String(64)),
    Column("created_at", Float, nullable=False),
    Column("modified_at", Float, nullable=False),
    Column("document", Text, nullable=False),
    Column("desired", Text),
    UniqueConstraint("account", "region", "kind", "name", name="uq_resources_name"),
    UniqueConstraint("arn", name="uq_resources_arn"),
    UniqueConstraint("account", "region", "kind", "parent", "version", name="uq_resources_version"),
)
Index("ix_resources_parent_created", resources.c.account, resources.c.region, resources.c.kind,
      resources.c.parent, resources.c.created_at)
Index("ix_resources_kind_created", resources.c.account, resources.c.region, resources.c.kind,
      resources.c.created_at)

tags = Table(
    "tags",
    metadata,
    Column("resource_id", Integer, ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(256), nullable=False),
)

client_tokens = Table(
    "client_tokens",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("operation", String(128), primary_key=True),
    Column("token", String(128), primary_key=True),
    Column("arn", String(2048), nullable=False),
    Column("created_at", Float, nullable=False),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(20), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("account", String(12), nullable=False),
    Column("secret", Text, nullable=False),
    Column("allow", Text),
    Column("created_at", Float, nullable=False),
)
"""Access keys: ``secret`` is sealed by ``auth.secrets.SecretBox``; ``allow`` a JSON list of action
patterns (NULL: every action)."""
