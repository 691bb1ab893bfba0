"""SageMaker's ``InferenceResult`` notifications, published to the SNS topics of ``NotificationConfig``.

The server reaches SNS at the standard AWS settings (``AWS_ENDPOINT_URL_SNS``, else ``AWS_ENDPOINT_URL``,
and the usual credentials); the composition root builds a ``Notifier`` only when one is set, and
CreateEndpointConfig refuses a ``NotificationConfig`` otherwise. A publish that fails is logged and
returns False; it never fails the inference.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger("modelyard.async")

EVENT_VERSION = "1.0"


def _timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{int(epoch * 1000) % 1000:03d}Z"


def inference_result(*, region: str, endpoint: str, inference_id: str, received_at: float, finished_at: float,
                     input_location: str | None, content_type: str | None, succeeded: bool,
                     output_location: str | None, output_content_type: str | None,
                     failure_location: str | None = None, failure_reason: str | None = None) -> dict[str, Any]:
    """The ``InferenceResult`` event SageMaker publishes for one finished asynchronous request."""
    request: dict[str, Any] = {"contentType": content_type or "application/octet-stream", "endpointName": endpoint}
    if input_location:
        request["inputLocation"] = input_location
    response: dict[str, Any] = {"contentType": output_content_type or "application/json"}
    if succeeded:
        response["outputLocation"] = output_location
    elif failure_location:
        response["failureLocation"] = failure_location
    event: dict[str, Any] = {
        "awsRegion": region,
        "eventTime": _timestamp(finished_at),
        "receivedTime": _timestamp(received_at),
        "invocationStatus": "Completed" if succeeded else "Failed",
        "requestParameters": request,
        "responseParameters": response,
        "inferenceId": inference_id,
        "eventVersion": EVENT_VERSION,
        "eventSource": "aws:sagemaker",
        "eventName": "InferenceResult",
    }
    if not succeeded:
        event["failureReason"] = failure_reason or "ClientError: the inference failed"
    return event


class Notifier:
    """Publishes events to SNS topics through boto3 (blocking: call it from a worker thread)."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self._local = threading.local()

    def _client(self, region: str) -> Any:
        clients: dict[str, Any] = getattr(self._local, "clients", None) or {}
        self._local.clients = clients
        if region not in clients:
            import boto3

            clients[region] = boto3.session.Session().client("sns", endpoint_url=self.endpoint_url,
                                                             region_name=region)
        return clients[region]

    def publish(self, topic_arn: str, event: dict[str, Any]) -> bool:
        """Publish ``event`` as JSON to ``topic_arn``; False (logged) when SNS refused or was unreachable."""
        region = topic_arn.split(":")[3] if topic_arn.count(":") >= 5 else "us-east-1"
        try:
            self._client(region).publish(TopicArn=topic_arn, Message=json.dumps(event))
        except Exception as exc:
            log.warning("async inference %s: could not publish to %s: %s", event.get("inferenceId"), topic_arn, exc)
            return False
        return True
