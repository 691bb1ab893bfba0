"""The async queue survives kill -9 of the server: every request accepted before the crash is answered
after a restart on the same data dir, none is answered twice, and one that expired meanwhile is dropped."""

from __future__ import annotations

import json
import signal
import time

import sqlalchemy

from tests.asynchronous.conftest import AsyncSetup
from tests.asynchronous.support import deploy_async, object_exists, wait_for_object
from tests.conftest import client_for
from tests.support.server import start_server

REQUESTS = 6


def test_requests_survive_a_crash(async_setup: AsyncSetup) -> None:
    bucket, server = async_setup.bucket, async_setup.server
    described = deploy_async(async_setup.client("sagemaker"), "durable", str(async_setup.model),
                             {"S3OutputPath": f"s3://{bucket}/d-out"},
                             client_config={"MaxConcurrentInvocationsPerInstance": 1})
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    runtime, s3 = async_setup.client("sagemaker-runtime"), async_setup.client("s3")
    outputs = []
    for index in range(REQUESTS):
        body = json.dumps({"x": [index], "sleep": 0.5}).encode()
        outputs.append(runtime.invoke_endpoint_async(EndpointName="durable", ContentType="application/json",
                                                     Body=body, InferenceId=f"d-{index}")["OutputLocation"])
    first = json.loads(wait_for_object(s3, outputs[0]))
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    engine = sqlalchemy.create_engine(server.database_url)
    with engine.begin() as conn:
        waiting = [row[0] for row in conn.execute(sqlalchemy.text(
            "SELECT inference_id FROM async_invocations ORDER BY received_at"))]
        assert waiting and waiting[-1] == f"d-{REQUESTS - 1}", waiting
        conn.execute(sqlalchemy.text("UPDATE async_invocations SET expires_at = 0 WHERE inference_id = :i"),
                     {"i": waiting[-1]})
    engine.dispose()

    restarted = start_server(server.data_dir, env={"MODELYARD_INVOKE_TIMEOUT_SECONDS": "5"})
    async_setup.server = restarted
    s3 = client_for(restarted, "s3")
    late = client_for(restarted, "sagemaker-runtime").invoke_endpoint_async(
        EndpointName="durable", ContentType="application/json", Body=b'{"x": [100]}', InferenceId="d-late")
    answers = {index: json.loads(wait_for_object(s3, outputs[index], 120)) for index in range(REQUESTS - 1)}
    assert [answers[i]["y"] for i in range(REQUESTS - 1)] == [[2.0 * i] for i in range(REQUESTS - 1)]
    assert answers[0] == first, "an answer stored before the crash was written again"
    assert json.loads(wait_for_object(s3, late["OutputLocation"], 60))["y"] == [200.0]
    time.sleep(1.0)
    assert not object_exists(s3, outputs[REQUESTS - 1]), "an expired request was answered"
    assert "expired after its RequestTTLSeconds" in restarted.log()
    engine = sqlalchemy.create_engine(restarted.database_url)
    with engine.begin() as conn:
        assert conn.execute(sqlalchemy.text("SELECT count(*) FROM async_invocations")).scalar() == 0
    engine.dispose()
