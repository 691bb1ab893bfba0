"""An endpoint configuration's ``AsyncInferenceConfig`` as the async queue acts on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_CONCURRENCY_PER_INSTANCE = 4
"""Requests one instance runs at once when ``MaxConcurrentInvocationsPerInstance`` is not given
(SageMaker picks a value per container; 4 suits the toolkit's default worker count)."""


@dataclass(frozen=True)
class AsyncInference:
    """Where answers go, who is told, and how many requests one instance runs at once."""

    output_path: str
    failure_path: str | None = None
    success_topic: str | None = None
    error_topic: str | None = None
    concurrency_per_instance: int = DEFAULT_CONCURRENCY_PER_INSTANCE

    @classmethod
    def from_document(cls, config: dict[str, Any] | None) -> AsyncInference | None:
        """Parse a stored ``AsyncInferenceConfig`` (None when the endpoint is real-time)."""
        if not config:
            return None
        output = config.get("OutputConfig") or {}
        notification = output.get("NotificationConfig") or {}
        client = config.get("ClientConfig") or {}
        return cls(str(output["S3OutputPath"]), output.get("S3FailurePath"), notification.get("SuccessTopic"),
                   notification.get("ErrorTopic"),
                   int(client.get("MaxConcurrentInvocationsPerInstance") or DEFAULT_CONCURRENCY_PER_INSTANCE))
