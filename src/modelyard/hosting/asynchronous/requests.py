"""One accepted asynchronous request, as stored in the queue, and SageMaker's naming of its answers."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_TTL_SECONDS = 21600
DEFAULT_INVOCATION_TIMEOUT_SECONDS = 900
OUTPUT_SUFFIX = ".out"
ERROR_SUFFIX = "-error.out"


@dataclass(frozen=True)
class AsyncRequest:
    """What the drainer needs to answer a request long after the call that made it."""

    inference_id: str
    input_location: str
    """The caller's ``s3://`` input ("" for an inline body, which is stored with the queue row)."""
    inline: bool
    output_location: str
    failure_location: str | None
    content_type: str | None
    accept: str | None
    custom_attributes: str | None
    timeout_seconds: int
    received_at: float
    expires_at: float

    def to_json(self) -> str:
        """The stored form."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> AsyncRequest:
        """Read the stored form."""
        data: dict[str, Any] = json.loads(text)
        return cls(**data)


def _joined(base: str, *parts: str) -> str:
    text = base.rstrip("/")
    for part in parts:
        text = f"{text}/{part.strip('/')}"
    return text


def output_location(output_path: str, inference_id: str, extension: str | None, filename: str | None) -> str:
    """``<S3OutputPath>[/<S3OutputPathExtension>]/<Filename or inference id + .out>``."""
    parts = [extension] if extension else []
    return _joined(output_path, *parts, filename or f"{inference_id}{OUTPUT_SUFFIX}")


def failure_location(failure_path: str | None, inference_id: str, extension: str | None,
                     filename: str | None) -> str | None:
    """``<S3FailurePath>[/<S3OutputPathExtension>]/<Filename or inference id>-error.out``, or None."""
    if not failure_path:
        return None
    parts = [extension] if extension else []
    stem = filename.rsplit(".", 1)[0] if filename else inference_id
    return _joined(failure_path, *parts, f"{stem}{ERROR_SUFFIX}")
