"""Watch an endpoint come up: its status and its log lines, live, until InService or Failed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from modelyard.cli.connection import Connection
from modelyard.cli.logtail import LogSource, LogTail
from modelyard.cli.output import err
from modelyard.log_groups import deployment_group, endpoint_group

FINAL = ("InService", "Failed", "OutOfService")


@dataclass
class Outcome:
    """How a deployment ended."""

    status: str
    description: dict[str, Any]
    lines: list[str] = field(default_factory=list)

    @property
    def failure_reason(self) -> str:
        """SageMaker's FailureReason ('' when there is none)."""
        return str(self.description.get("FailureReason", ""))


def phase_of(line: str) -> str | None:
    """A short description of what the endpoint is doing, read from one of its log lines."""
    text = line.lower()
    if "building environment" in text or "uv pip" in text or "installing" in text:
        return "building the model's environment"
    if "environment" in text and "ready" in text:
        return "starting instances"
    if "model_fn" in text or "loading model" in text:
        return "loading the model"
    if "listening" in text or "ready" in text or "serving" in text:
        return "waiting for the health check"
    return None


def watch_endpoint(conn: Connection, name: str, timeout: float, interval: float = 0.5,
                   show_logs: bool = True) -> Outcome:
    """Poll DescribeEndpoint and tail the endpoint's logs until a final status (or ``timeout``)."""
    logs = conn.client("logs")
    tails: list[LogTail] = []
    started = time.monotonic()
    lines: list[str] = []
    phase = "preparing the model"
    with err.status(f"[bold]{name}[/bold]: Creating", spinner="dots") as spinner:
        while True:
            description = conn.sagemaker.describe_endpoint(EndpointName=name)
            status = description["EndpointStatus"]
            if not tails:
                since = int(description["CreationTime"].timestamp() * 1000)
                tails = [LogTail(logs, LogSource(group), since)
                         for group in (deployment_group(name), endpoint_group(name))]
            for event in sorted((e for t in tails for e in t.poll()), key=lambda e: e.get("timestamp", 0)):
                message = event["message"].rstrip("\n")
                lines.append(message)
                phase = phase_of(message) or phase
                if show_logs:
                    err.out(f"  | {message}", style="dim", highlight=False)
            elapsed = time.monotonic() - started
            if status in FINAL:
                return Outcome(status, description, lines)
            spinner.update(f"[bold]{name}[/bold]: {status} — {phase} ({elapsed:.0f}s)")
            if elapsed > timeout:
                return Outcome("Timeout", description, lines)
            time.sleep(interval)
