"""The async queue on PostgreSQL: accepted, claimed, answered and removed (the same SQL as SQLite)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from tests.asynchronous.support import deploy_async, wait_for_object
from tests.conftest import client_for
from tests.hosting.models import scaler_model
from tests.support.server import ServerProcess, create_pg_database, drop_pg_database, start_server


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    url, name = create_pg_database()
    server = start_server(tmp_path_factory.mktemp("async-pg"), database_url=url)
    yield server
    server.stop()
    drop_pg_database(name)


def test_async_queue_on_postgres(pg_server: ServerProcess, tmp_path: Path) -> None:
    s3 = client_for(pg_server, "s3")
    s3.create_bucket(Bucket="async-pg")
    described = deploy_async(client_for(pg_server, "sagemaker"), "pg-async", str(scaler_model(tmp_path)),
                             {"S3OutputPath": "s3://async-pg/out"})
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    runtime = client_for(pg_server, "sagemaker-runtime")
    outputs = [runtime.invoke_endpoint_async(EndpointName="pg-async", ContentType="application/json",
                                             Body=json.dumps({"x": [i]}).encode())["OutputLocation"]
               for i in range(3)]
    assert [json.loads(wait_for_object(s3, uri))["y"] for uri in outputs] == [[0.0], [2.0], [4.0]]
    engine = sqlalchemy.create_engine(pg_server.database_url.replace("postgresql://", "postgresql+psycopg://"))
    deadline = time.monotonic() + 10
    while True:
        with engine.begin() as conn:
            left = conn.execute(sqlalchemy.text("SELECT count(*) FROM async_invocations")).scalar()
        if left == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    engine.dispose()
    assert left == 0
