"""The composition root in-process: ``build_app`` starts, serves every service through one pipeline
(the runtime authenticated like the rest), and stops."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from modelyard.app import build_app
from modelyard.server import ModelyardApp
from modelyard.settings import Settings
from modelyard.wire.auth import AuthRequest, Principal, parse_authorization
from tests.edge.asgi import Answer, request

SIGNED = "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/sagemaker/aws4_request, SignedHeaders=host"


class SeeingAuthenticator:
    def __init__(self) -> None:
        self.paths: list[str] = []

    def verify(self, request: AuthRequest) -> Principal:
        self.paths.append(request.raw_path)
        return parse_authorization(request.headers.get("authorization"))


async def _session(app: ModelyardApp) -> list[Answer]:
    """Start the app's lifespan, send three requests, shut it down."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    lifespan = asyncio.create_task(app({"type": "lifespan"}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        return [
            await request(app, "POST", "/", {"x-amz-target": "SageMaker.ListModels", "authorization": SIGNED}, b"{}"),
            await request(app, "POST", "/", {"x-amz-target": "Logs_20140328.DescribeLogGroups"}, b"{}"),
            await request(app, "POST", "/endpoints/missing/invocations",
                          {"content-type": "text/csv", "authorization": SIGNED}, b"1"),
        ]
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
        await lifespan


def test_build_app_serves_every_service_through_the_pipeline(tmp_path: Path) -> None:
    authenticator = SeeingAuthenticator()
    app = build_app(Settings(data_dir=tmp_path / "data", sandbox=False), authenticator=authenticator)
    models, groups, invocation = asyncio.run(_session(app))
    assert models.status == 200 and json.loads(models.body)["Models"] == []
    assert groups.status == 200 and "logGroups" in json.loads(groups.body)
    assert invocation.status == 400 and invocation.headers["x-amzn-errortype"] == "ValidationError"
    assert invocation.error()["message"] == "Endpoint missing of account 000000000000 not found."
    assert authenticator.paths == ["/", "/", "/endpoints/missing/invocations"]
