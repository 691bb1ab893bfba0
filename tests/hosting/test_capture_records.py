"""The pure parts of data capture: JSONL lines, file names, the sink's sampling and bounds."""

from __future__ import annotations

import base64
import json

from modelyard.desired.capture import CaptureConfig, capture_summary
from modelyard.hosting.capture.naming import capture_file_uri, hour_of
from modelyard.hosting.capture.records import CapturedEvent, capture_line
from modelyard.hosting.capture.sink import CaptureSink

STORED = {"InitialSamplingPercentage": 30, "DestinationS3Uri": "s3://b/p",
          "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
          "CaptureContentTypeHeader": {"CsvContentTypes": ["Text/CSV"], "JsonContentTypes": ["application/json"]}}


def event(input_type: str | None, body: bytes, output_type: str | None = "application/json",
          output: bytes = b"{}", inference_id: str | None = None) -> CapturedEvent:
    return CapturedEvent("AllTraffic", 1_700_000_000.25, inference_id, input_type, body, output_type, output)


def test_config_reads_modes_and_content_types() -> None:
    config = CaptureConfig.from_document(STORED)
    assert config is not None and config.capture_input and config.capture_output
    assert config.csv_types == {"text/csv"} and config.sampling_percentage == 30
    assert CaptureConfig.from_document({**STORED, "EnableCapture": False}) is None
    assert CaptureConfig.from_document(None) is None
    only_input = CaptureConfig.from_document({**STORED, "CaptureOptions": [{"CaptureMode": "Input"}]})
    assert only_input is not None and only_input.capture_input and not only_input.capture_output


def test_summary_is_started_only_when_running() -> None:
    assert capture_summary(STORED, started=True) == {"EnableCapture": True, "CaptureStatus": "Started",
                                                     "CurrentSamplingPercentage": 30, "DestinationS3Uri": "s3://b/p"}
    assert capture_summary(STORED, started=False)["CaptureStatus"] == "Stopped"  # type: ignore[index]
    assert capture_summary(None, started=True) is None


def test_line_encodings() -> None:
    config = CaptureConfig.from_document(STORED)
    assert config is not None
    line = capture_line(event("text/csv; charset=utf-8", b"1,2\n", inference_id="abc"), config)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    record = json.loads(line)
    assert record["captureData"]["endpointInput"] == {"observedContentType": "text/csv; charset=utf-8",
                                                      "mode": "INPUT", "data": "1,2\n", "encoding": "CSV"}
    assert record["captureData"]["endpointOutput"]["encoding"] == "JSON"
    assert record["eventMetadata"]["inferenceId"] == "abc"
    assert record["eventMetadata"]["inferenceTime"] == "2023-11-14T22:13:20Z"
    not_utf8 = json.loads(capture_line(event("text/csv", b"\xff\xfe"), config))["captureData"]["endpointInput"]
    assert not_utf8["encoding"] == "BASE64" and base64.b64decode(not_utf8["data"]) == b"\xff\xfe"
    untyped = json.loads(capture_line(event(None, b"raw"), config))["captureData"]["endpointInput"]
    assert untyped["observedContentType"] == "application/octet-stream" and untyped["encoding"] == "BASE64"
    no_headers = CaptureConfig.from_document({**STORED, "CaptureContentTypeHeader": {}})
    assert no_headers is not None
    output = json.loads(capture_line(event("application/json", b"{}"), no_headers))["captureData"]["endpointOutput"]
    assert output["encoding"] == "BASE64"


def test_file_names() -> None:
    uri = capture_file_uri("s3://b/p/", "ep", "AllTraffic", 1_700_000_000.25)
    assert uri.startswith("s3://b/p/ep/AllTraffic/2023/11/14/22/13-20-250-") and uri.endswith(".jsonl")
    assert hour_of(1_700_000_000.25) == hour_of(1_699_999_200.0) != hour_of(1_700_003_600.0)


def test_sink_samples_and_bounds() -> None:
    draws = iter([0.29, 0.30, 0.99])
    sink = CaptureSink(30, max_records=2, max_bytes=10, draw=lambda: next(draws))
    assert [sink.sampled() for _ in range(3)] == [True, False, False]
    assert CaptureSink(0, 1, 1).sampled() is False and CaptureSink(100, 1, 1).sampled() is True
    sink.offer(event("a", b"1234", output=b""))
    sink.offer(event("a", b"1234567", output=b""))  # over the byte bound
    sink.offer(event("a", b"12", output=b""))
    sink.offer(event("a", b"1", output=b""))  # over the record bound
    assert (sink.accepted, sink.dropped) == (2, 2)
    assert [e.input_body for e in sink.take()] == [b"1234", b"12"]
    sink.offer(event("a", b"123456", output=b""))
    assert sink.accepted == 3
    sink.closed = True
    sink.offer(event("a", b"1", output=b""))
    assert sink.dropped == 3
