"""What a request knows: who asked, where, and the server's long-lived parts.

``AppState`` is built once by the composition root (``modelyard.app``); every request gets a
``RequestContext`` from the pipeline (``modelyard.edge``) with the caller's account and region.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from modelyard.metrics.hub import MetricsHub
from modelyard.ports import (
    BucketOwners,
    ClusterJobs,
    ImageCatalogue,
    JobScheduler,
    LogBackend,
    NoImageChecks,
    Reconciler,
)
from modelyard.settings import Settings
from modelyard.store.database import Database


@dataclass(frozen=True)
class AppState:
    """The server's long-lived parts that operation handlers use, shared by every request."""

    settings: Settings
    db: Database
    logs: LogBackend
    endpoints: Reconciler
    transforms: Reconciler
    jobs: JobScheduler
    images: ImageCatalogue = field(default_factory=NoImageChecks)
    buckets: BucketOwners | None = None
    """The server's own S3, when it serves ``s3://`` itself (no external S3 configured)."""
    metrics: MetricsHub | None = None
    """CloudWatch metrics (None in control worker processes, which serve no CloudWatch call)."""
    tuning: Reconciler | None = None
    """The tuner (hyperparameter tuning jobs); None where no tuner runs (control workers)."""
    cluster: ClusterJobs | None = None
    """The Ray cluster jobs are placed on; None: every job runs on this machine."""


@dataclass(slots=True)
class RequestContext:
    """One request's identity and the app state; read-only by convention (not frozen: a frozen
    dataclass costs a microsecond more to build on every invocation)."""

    account: str
    region: str
    request_id: str
    app: AppState
    operation: str = ""
    now: float = field(default_factory=time.time)
    access_key: str | None = None
    """The access key the request was signed with (None when unsigned or run in a control worker)."""

    @property
    def db(self) -> Database:
        """The metadata store."""
        return self.app.db

    @property
    def logs(self) -> LogBackend:
        """The log groups of the caller's account and region."""
        return self.app.logs.scoped(self.account, self.region)

    @property
    def settings(self) -> Settings:
        """The server settings."""
        return self.app.settings
