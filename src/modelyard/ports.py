"""What the services need from the subsystems that run beside them, as small Protocols.

Services import these, never the controllers or the log store's implementation; the composition
root (``modelyard.app``) hands the real objects over in ``AppState``::

    services --(Reconciler, JobScheduler, LogBackend)--> context.AppState <-- app.py builds it
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from modelyard.logstore import EventPage, FilterPage, GroupInfo, StreamInfo


class Reconciler(Protocol):
    """A controller that acts on a resource whose desired state changed (endpoints, transform jobs)."""

    def notify(self, account: str, region: str, name: str) -> None:
        """Reconcile the named resource soon (thread-safe)."""


class JobScheduler(Protocol):
    """What the training and processing services need from the job controller."""

    def notify(self, kind: str, account: str, region: str, name: str) -> None:
        """A job was created: run it (thread-safe)."""

    def request_stop(self, kind: str, account: str, region: str, name: str) -> None:
        """A job's record says Stopping: end its container (thread-safe)."""


class ImageCatalogue(Protocol):
    """What the services ask of the image registry when a container or job is created."""

    def problem(self, uri: str) -> str | None:
        """Why an image must be refused at create time (a framework version that cannot be installed)."""


class ClusterJobs(Protocol):
    """What the services ask, when a job is created, of the cluster a server places jobs on."""

    def on_cluster(self, image: str) -> bool:
        """Whether the containers of image ``image`` run on the cluster's nodes (else on this machine)."""

    def capacity_problem(self, instance_type: str | None, count: int) -> str | None:
        """Why ``count`` hosts of ``instance_type`` can never run at once on the cluster's live nodes, with the
        numbers; None when they can (or when the cluster cannot be asked now: placement checks again)."""


class NoImageChecks:
    """An ImageCatalogue that refuses nothing (for states built without the runtime)."""

    def problem(self, uri: str) -> str | None:
        """Never a problem."""
        return None


class LogBackend(Protocol):
    """The log-store operations CloudWatch Logs' API is served from."""

    def scoped(self, account: str, region: str) -> LogBackend:
        """The log groups of one account in one region: every request and resource sees only its own."""

    def create_group(self, group: str, *, exist_ok: bool = False) -> None:
        """Create a log group (``GroupExists`` unless ``exist_ok``)."""

    def delete_group(self, group: str) -> None:
        """Delete a log group and its streams."""

    def groups(self, prefix: str | None = None) -> list[GroupInfo]:
        """The log groups, optionally only those whose name starts with ``prefix``."""

    def create_stream(self, group: str, stream: str, *, exist_ok: bool = False) -> None:
        """Create a log stream in an existing group."""

    def delete_stream(self, group: str, stream: str) -> None:
        """Delete a log stream."""

    def streams(self, group: str, prefix: str | None = None) -> list[StreamInfo]:
        """The streams of a group, optionally only those whose name starts with ``prefix``."""

    def stream_info(self, group: str, stream: str) -> StreamInfo:
        """One stream's description (``StreamNotFound`` when it does not exist)."""

    def append(self, group: str, stream: str, events: Iterable[tuple[int, str]]) -> None:
        """Append ``(timestamp_ms, message)`` events to a stream."""

    def read(self, group: str, stream: str, start_time: int | None = None, end_time: int | None = None,
             start_from_head: bool = False, limit: int = ..., token: str | None = None) -> EventPage:
        """One page of a stream's events (GetLogEvents)."""

    def filter(self, group: str, stream_names: list[str] | None = None, stream_prefix: str | None = None,
               pattern: str | None = None, start_time: int | None = None, end_time: int | None = None,
               limit: int = ..., token: str | None = None) -> FilterPage:
        """One page of a group's events matching a filter pattern (FilterLogEvents)."""


class BucketOwners(Protocol):
    """Who owns the buckets of the server's own S3 (checked when a resource names an ``s3://`` URI)."""

    def owner(self, bucket: str) -> str | None:
        """The owning account, or None when no such bucket exists."""
        ...
