"""One captured invocation and its JSONL line in SageMaker's capture format (``eventVersion`` "0")."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any, NamedTuple

from modelyard.desired.capture import CaptureConfig, media_type

DEFAULT_CONTENT_TYPE = "application/octet-stream"


class CapturedEvent(NamedTuple):
    """What the invoke path hands over: the variant, when, the caller's InferenceId, and both payloads."""

    variant: str
    time: float
    inference_id: str | None
    input_type: str | None
    input_body: bytes
    output_type: str | None
    output_body: bytes

    @property
    def size(self) -> int:
        """The payload bytes this event holds in memory."""
        return len(self.input_body) + len(self.output_body)


def inference_time(epoch: float) -> str:
    """SageMaker's ``inferenceTime``: UTC, to the second (``2022-02-14T17:25:49Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _payload(body: bytes, content_type: str | None, mode: str, config: CaptureConfig) -> dict[str, str]:
    observed = content_type or DEFAULT_CONTENT_TYPE
    kind = media_type(observed)
    encoding = "CSV" if kind in config.csv_types else "JSON" if kind in config.json_types else "BASE64"
    data = ""
    if encoding != "BASE64":
        try:
            data = body.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "BASE64"
    if encoding == "BASE64":
        data = base64.b64encode(body).decode("ascii")
    return {"observedContentType": observed, "mode": mode, "data": data, "encoding": encoding}


def capture_line(event: CapturedEvent, config: CaptureConfig) -> bytes:
    """The event as one JSONL line: ``captureData`` (input and/or output), ``eventMetadata``, ``eventVersion``.

    A payload whose content type is listed as CSV or JSON is stored as text; any other (or text that is
    not UTF-8) is base64 with encoding ``BASE64``.
    """
    capture: dict[str, Any] = {}
    if config.capture_input:
        capture["endpointInput"] = _payload(event.input_body, event.input_type, "INPUT", config)
    if config.capture_output:
        capture["endpointOutput"] = _payload(event.output_body, event.output_type, "OUTPUT", config)
    metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": inference_time(event.time)}
    if event.inference_id:
        metadata["inferenceId"] = event.inference_id
    record = {"captureData": capture, "eventMetadata": metadata, "eventVersion": "0"}
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
