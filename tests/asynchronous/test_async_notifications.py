"""Asynchronous outcomes told through SNS (moto's standalone server, read through a subscribed SQS
queue), a publish that fails without failing the inference, an output path that cannot be written, and
queued requests dropped with their deleted endpoint."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import sqlalchemy

from tests.asynchronous.conftest import AsyncSetup
from tests.asynchronous.support import deploy_async, object_exists, wait_for_object


@pytest.fixture(scope="module")
def topics(async_setup: AsyncSetup) -> dict[str, str]:
    """A success topic and an error topic, both delivering to one SQS queue."""
    sns, sqs = async_setup.moto_client("sns"), async_setup.moto_client("sqs")
    queue_url = sqs.create_queue(QueueName="async-results")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    arns = {}
    for name in ("done", "failed"):
        arn = sns.create_topic(Name=name)["TopicArn"]
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
        arns[name] = arn
    return {**arns, "queue": queue_url}


def _messages(setup: AsyncSetup, queue_url: str, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    sqs = setup.moto_client("sqs")
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            envelope = json.loads(message["Body"])
            found.append({"topic": envelope["TopicArn"], **json.loads(envelope["Message"])})
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        time.sleep(0.1)
    return found


def test_success_and_error_notifications(async_setup: AsyncSetup, topics: dict[str, str]) -> None:
    bucket = async_setup.bucket
    sm = async_setup.client("sagemaker")
    described = deploy_async(sm, "notified", str(async_setup.model), {
        "S3OutputPath": f"s3://{bucket}/n-out", "S3FailurePath": f"s3://{bucket}/n-failed",
        "NotificationConfig": {"SuccessTopic": topics["done"], "ErrorTopic": topics["failed"]}})
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    s3 = async_setup.client("s3")
    s3.put_object(Bucket=bucket, Key="n/ok.json", Body=b'{"x": [1]}')
    s3.put_object(Bucket=bucket, Key="n/bad.json", Body=b'{"fail": "no"}')
    runtime = async_setup.client("sagemaker-runtime")
    ok = runtime.invoke_endpoint_async(EndpointName="notified", InputLocation=f"s3://{bucket}/n/ok.json",
                                       ContentType="application/json", InferenceId="ok-1")
    bad = runtime.invoke_endpoint_async(EndpointName="notified", InputLocation=f"s3://{bucket}/n/bad.json",
                                        ContentType="application/json", InferenceId="bad-1")
    events = {event["inferenceId"]: event for event in _messages(async_setup, topics["queue"], 2)}
    success, failure = events["ok-1"], events["bad-1"]
    assert success["topic"] == topics["done"] and failure["topic"] == topics["failed"]
    assert success["eventName"] == "InferenceResult" and success["eventSource"] == "aws:sagemaker"
    assert success["eventVersion"] == "1.0" and success["awsRegion"] == "us-east-1"
    assert success["invocationStatus"] == "Completed"
    assert success["requestParameters"] == {"contentType": "application/json", "endpointName": "notified",
                                            "inputLocation": f"s3://{bucket}/n/ok.json"}
    assert success["responseParameters"]["outputLocation"] == ok["OutputLocation"]
    assert success["receivedTime"] <= success["eventTime"] and success["eventTime"].endswith("Z")
    assert failure["invocationStatus"] == "Failed" and "boom: no" in failure["failureReason"]
    assert failure["responseParameters"]["failureLocation"] == bad["FailureLocation"]


def test_a_failed_publish_does_not_fail_the_inference(async_setup: AsyncSetup) -> None:
    bucket = async_setup.bucket
    described = deploy_async(async_setup.client("sagemaker"), "unheard", str(async_setup.model), {
        "S3OutputPath": f"s3://{bucket}/u-out",
        "NotificationConfig": {"SuccessTopic": "arn:aws:sns:us-east-1:123456789012:no-such-topic"}})
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    answer = async_setup.client("sagemaker-runtime").invoke_endpoint_async(
        EndpointName="unheard", ContentType="application/json", Body=b'{"x": [7]}')
    assert json.loads(wait_for_object(async_setup.client("s3"), answer["OutputLocation"]))["y"] == [14.0]
    deadline = time.monotonic() + 10
    while "could not publish" not in async_setup.server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "no-such-topic" in async_setup.server.log()


def test_output_path_not_writable_is_a_failure(async_setup: AsyncSetup) -> None:
    bucket = async_setup.bucket
    described = deploy_async(async_setup.client("sagemaker"), "unwritable", str(async_setup.model), {
        "S3OutputPath": "s3://no-such-bucket-here/out", "S3FailurePath": f"s3://{bucket}/w-failed"})
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    answer = async_setup.client("sagemaker-runtime").invoke_endpoint_async(
        EndpointName="unwritable", ContentType="application/json", Body=b'{"x": [1]}')
    message = wait_for_object(async_setup.client("s3"), answer["FailureLocation"]).decode()
    assert "could not write the output to s3://no-such-bucket-here/out/" in message
    assert not object_exists(async_setup.client("s3"), answer["OutputLocation"])


def test_queued_requests_go_with_their_deleted_endpoint(async_setup: AsyncSetup) -> None:
    sm = async_setup.client("sagemaker")
    described = deploy_async(sm, "short-lived", str(async_setup.model),
                             {"S3OutputPath": f"s3://{async_setup.bucket}/s"},
                             client_config={"MaxConcurrentInvocationsPerInstance": 1})
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    runtime = async_setup.client("sagemaker-runtime")
    for _ in range(4):
        runtime.invoke_endpoint_async(EndpointName="short-lived", ContentType="application/json",
                                      Body=b'{"x": [1], "sleep": 1}')
    sm.delete_endpoint(EndpointName="short-lived")
    engine = sqlalchemy.create_engine(async_setup.server.database_url)
    deadline = time.monotonic() + 20
    left = -1
    while time.monotonic() < deadline:
        with engine.begin() as conn:
            left = conn.execute(sqlalchemy.text(
                "SELECT count(*) FROM async_invocations WHERE endpoint = 'short-lived'")).scalar()
        if left == 0:
            break
        time.sleep(0.2)
    engine.dispose()
    assert left == 0
    assert "endpoint short-lived was deleted" in async_setup.server.log()
