"""Read log lines through the CloudWatch Logs API, the way ``logs --follow`` and ``deploy`` need them.

An endpoint logs to ``/aws/sagemaker/Endpoints/<name>``; a job to its family's group with streams
named ``<job>/...``. :class:`LogTail` remembers what it already returned, so polling it repeatedly
yields each event once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelyard.cli.connection import error_code
from modelyard.log_groups import JOB_GROUPS, deployment_group, endpoint_group


@dataclass(frozen=True)
class LogSource:
    """A log group, optionally narrowed to the streams starting with ``prefix``."""

    group: str
    prefix: str | None = None
    kind: str = "endpoint"

    def describe(self) -> str:
        """Where the lines come from, for messages."""
        return f"{self.group} (streams {self.prefix}*)" if self.prefix else self.group


@dataclass
class LogTail:
    """Incremental reader of one :class:`LogSource`."""

    logs: Any
    source: LogSource
    start_ms: int = 0
    _seen: set[str] = field(default_factory=set)

    def poll(self) -> list[dict[str, Any]]:
        """New events (``timestamp``, ``message``, ``logStreamName``) in time order; [] if the group is absent."""
        params: dict[str, Any] = {"logGroupName": self.source.group, "startTime": self.start_ms}
        if self.source.prefix:
            params["logStreamNamePrefix"] = self.source.prefix
        events: list[dict[str, Any]] = []
        try:
            while True:
                page = self.logs.filter_log_events(**params)
                events.extend(page.get("events", []))
                token = page.get("nextToken")
                if not token or not page.get("events"):
                    break
                params["nextToken"] = token
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return []
            raise
        fresh = [e for e in events if e.get("eventId") not in self._seen]
        fresh.sort(key=lambda e: (e.get("timestamp", 0), e.get("eventId", "")))
        for event in fresh:
            self._seen.add(event.get("eventId", ""))
            event["logGroupName"] = self.source.group
        if fresh:
            self.start_ms = max(self.start_ms, fresh[-1].get("timestamp", 0))
        return fresh


def group_exists(logs: Any, group: str) -> bool:
    """True when the log group exists on the server."""
    response = logs.describe_log_groups(logGroupNamePrefix=group)
    return any(g.get("logGroupName") == group for g in response.get("logGroups", []))


def find_sources(logs: Any, name: str) -> list[LogSource]:
    """The log sources of endpoint ``name`` (deployment steps, then instances) or else of the job ``name``."""
    endpoint = [LogSource(group) for group in (deployment_group(name), endpoint_group(name))
                if group_exists(logs, group)]
    if endpoint:
        return endpoint
    for kind, group in JOB_GROUPS.items():
        try:
            response = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/", limit=1)
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                continue
            raise
        if response.get("logStreams"):
            return [LogSource(group, f"{name}/", kind)]
    return []
