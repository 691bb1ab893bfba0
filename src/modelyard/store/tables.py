"""Table definitions (SQLAlchemy Core).

``resources`` holds every SageMaker resource as its described document (wire members only) plus the
indexed columns queries filter and sort on, and ``desired``: the private state services hand to
controllers (``modelyard.desired``), never described; ``(account, region, kind, name)`` is unique, and so is a registry
version within its group. Tags and idempotency tokens live beside it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
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

S3_KEY = String(1024).with_variant(String(1024, collation="C"), "postgresql")
"""An object key: sorted by code point (UTF-8 byte order) on both stores, as S3 lists keys."""

s3_buckets = Table(
    "s3_buckets",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
)
Index("ix_s3_buckets_account", s3_buckets.c.account, s3_buckets.c.name)

s3_objects = Table(
    "s3_objects",
    metadata,
    Column("bucket", String(63), ForeignKey("s3_buckets.name"), primary_key=True),
    Column("key", S3_KEY, primary_key=True),
    Column("blob", String(32), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("etag", String(64), nullable=False),
    Column("content_type", String(256)),
    Column("headers", Text),
    Column("metadata", Text),
    Column("checksum_algorithm", String(16)),
    Column("checksum", String(128)),
    Column("parts", Integer),
    Column("modified_at", Float, nullable=False),
)

s3_uploads = Table(
    "s3_uploads",
    metadata,
    Column("upload_id", String(64), primary_key=True),
    Column("bucket", String(63), ForeignKey("s3_buckets.name"), nullable=False),
    Column("key", S3_KEY, nullable=False),
    Column("content_type", String(256)),
    Column("headers", Text),
    Column("metadata", Text),
    Column("checksum_algorithm", String(16)),
    Column("created_at", Float, nullable=False),
)
Index("ix_s3_uploads_bucket_key", s3_uploads.c.bucket, s3_uploads.c.key)

s3_parts = Table(
    "s3_parts",
    metadata,
    Column("upload_id", String(64), ForeignKey("s3_uploads.upload_id", ondelete="CASCADE"), primary_key=True),
    Column("part_number", Integer, primary_key=True),
    Column("blob", String(32), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("etag", String(64), nullable=False),
    Column("checksum", String(128)),
    Column("modified_at", Float, nullable=False),
)

metric_series = Table(
    "metric_series",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("namespace", String(256), nullable=False),
    Column("name", String(256), nullable=False),
    Column("dimensions", Text, nullable=False),
    Column("last_minute", BigInteger, nullable=False),
    UniqueConstraint("account", "region", "namespace", "name", "dimensions", name="uq_metric_series"),
)
"""One metric: a name in a namespace with one exact set of dimensions (canonical sorted JSON)."""

metric_points = Table(
    "metric_points",
    metadata,
    Column("series_id", Integer, ForeignKey("metric_series.id", ondelete="CASCADE"), primary_key=True),
    Column("minute", BigInteger, primary_key=True),
    Column("unit", String(32), primary_key=True),
    Column("sample_count", Float, nullable=False),
    Column("total", Float, nullable=False),
    Column("minimum", Float, nullable=False),
    Column("maximum", Float, nullable=False),
    Column("histogram", Text),
)
Index("ix_metric_points_minute", metric_points.c.minute)
"""One-minute aggregates (``minute``: epoch seconds of the minute's start); ``histogram`` is
``metrics.histogram``'s encoding, None when the minute holds statistic sets without a distribution."""

metric_alarms = Table(
    "metric_alarms",
    metadata,
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("document", Text, nullable=False),
    Column("state", String(32), nullable=False),
    Column("updated_at", Float, nullable=False),
)
"""Metric alarms as DescribeAlarms shows them (``document``), with their state for filtering."""
async_invocations = Table(
    "async_invocations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("endpoint", String(63), nullable=False),
    Column("inference_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("request", Text, nullable=False),
    Column("body", LargeBinary),
    Index("ix_async_invocations_queue", "state", "received_at"),
)
"""The asynchronous-inference queue: ``state`` is ``queued`` or ``running`` (a row is deleted once its
answer is stored); ``request`` the JSON of ``hosting.asynchronous.requests.AsyncRequest``; ``body`` an
inline request body (at most 128,000 bytes), stored with the row so that both are kept or neither."""


def _scalable_target_key() -> list[Column[str]]:
    return [Column("account", String(12), primary_key=True), Column("region", String(32), primary_key=True),
            Column("namespace", String(32), primary_key=True), Column("resource_id", String(1600), primary_key=True),
            Column("dimension", String(128), primary_key=True)]


scalable_targets = Table(
    "scalable_targets",
    metadata,
    *_scalable_target_key(),
    Column("document", Text, nullable=False),
    Column("scaling", Text, nullable=False),
)
"""Application Auto Scaling targets as DescribeScalableTargets shows them (``document``); ``scaling``
the JSON of the autoscaler's state: when the target last scaled out and in, the activity in progress."""
scaling_policies = Table(
    "scaling_policies",
    metadata,
    *_scalable_target_key(),
    Column("name", String(256), primary_key=True),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("document", Text, nullable=False),
)
"""Scaling policies as DescribeScalingPolicies shows them, found by target and name or by ARN (the
alarm actions name them)."""
scaling_activities = Table(
    "scaling_activities",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("namespace", String(32), nullable=False),
    Column("resource_id", String(1600), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("document", Text, nullable=False),
    Index("ix_scaling_activities_target", "account", "region", "namespace", "resource_id", "started_at"),
)
"""Scaling activities as DescribeScalingActivities shows them, newest first."""
