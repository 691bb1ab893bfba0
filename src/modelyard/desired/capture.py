"""An endpoint configuration's DataCaptureConfig as the capture path uses it, and as DescribeEndpoint shows it.

Services (which validate and summarise), the endpoint controller (which starts capture with a deployment)
and the invoke path all read the same typed form, parsed from the stored configuration document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CaptureConfig:
    """What to capture (input, output), how often, how to encode each content type, and where to."""

    destination: str
    sampling_percentage: int
    capture_input: bool
    capture_output: bool
    csv_types: frozenset[str] = frozenset()
    json_types: frozenset[str] = frozenset()

    @classmethod
    def from_document(cls, capture: dict[str, Any] | None) -> CaptureConfig | None:
        """The active capture of a stored ``DataCaptureConfig``; None when absent or disabled."""
        if not capture or capture.get("EnableCapture", True) is False:
            return None
        modes = {option["CaptureMode"] for option in capture.get("CaptureOptions", [])}
        headers = capture.get("CaptureContentTypeHeader") or {}
        return cls(
            destination=str(capture["DestinationS3Uri"]),
            sampling_percentage=int(capture["InitialSamplingPercentage"]),
            capture_input=bool(modes & {"Input", "InputAndOutput"}),
            capture_output=bool(modes & {"Output", "InputAndOutput"}),
            csv_types=frozenset(media_type(t) for t in headers.get("CsvContentTypes") or ()),
            json_types=frozenset(media_type(t) for t in headers.get("JsonContentTypes") or ()),
        )


def media_type(content_type: str) -> str:
    """``text/csv; charset=utf-8`` -> ``text/csv``: what the capture content-type lists are matched on."""
    return content_type.split(";", 1)[0].strip().lower()


def capture_summary(capture: dict[str, Any] | None, *, started: bool) -> dict[str, Any] | None:
    """DescribeEndpoint's ``DataCaptureConfig`` for a stored config: ``Started`` only while it really runs."""
    if not capture:
        return None
    summary = {"EnableCapture": capture.get("EnableCapture", True) is not False,
               "CaptureStatus": "Started" if started else "Stopped",
               "CurrentSamplingPercentage": capture.get("InitialSamplingPercentage"),
               "DestinationS3Uri": capture.get("DestinationS3Uri"), "KmsKeyId": capture.get("KmsKeyId")}
    return {key: value for key, value in summary.items() if value is not None}
