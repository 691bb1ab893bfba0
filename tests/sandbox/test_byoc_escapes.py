"""Escape attempts from a bring-your-own image's serve program, answered on /invocations through the
server, with and without EnableNetworkIsolation (isolated: no network interface but loopback, served
through the unix-socket bridge all the same)."""

from __future__ import annotations

import json
from pathlib import Path

from modelyard.runtime.images import ImageRegistry
from tests.hosting.models import deploy, package
from tests.jobs_e2e.jobs_support import Stack, put, stack
from tests.sandbox.probe import (
    assert_contained,
    host_state,
    runtime_listings,
    serve_program,
    stack_files,
    subset_of,
)


def test_byoc_serve_program_cannot_escape(unique: str, tmp_path: Path) -> None:
    jobs: Stack = stack()
    sm, runtime, s3 = jobs.client("sagemaker"), jobs.client("sagemaker-runtime"), jobs.s3()
    data_dir = jobs.server.data_dir
    image = tmp_path / "image"
    for relative, text in stack_files(jobs, "serve", serve_program()).items():
        (image / relative).parent.mkdir(parents=True, exist_ok=True)
        (image / relative).write_text(text)
    (image / "serve").chmod(0o755)
    uri = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/escape-probe-{unique}:1"
    ImageRegistry(data_dir / "images").register(uri, image)
    artifact = put(s3, f"{unique}/model.tar.gz", package(tmp_path / "model", {"weights.txt": "w"}).read_bytes())
    before = host_state(data_dir)

    described = deploy(sm, unique, artifact, image=uri)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    seen = json.loads(runtime.invoke_endpoint(EndpointName=unique, Body=b"{}",
                                              ContentType="application/json")["Body"].read())
    assert_contained(seen, listings=runtime_listings(data_dir, subset_of("envs", "images", "sock", "toolkit-path")))
    before.assert_unchanged()

    assert "tap0" in seen["interfaces"], seen["interfaces"]

    isolated = deploy(sm, f"{unique}-iso", artifact, image=uri, isolated=True)
    assert isolated["EndpointStatus"] == "InService", isolated.get("FailureReason")
    seen = json.loads(runtime.invoke_endpoint(EndpointName=f"{unique}-iso", Body=b"{}",
                                              ContentType="application/json")["Body"].read())
    assert_contained(seen, listings=runtime_listings(data_dir, subset_of("envs", "images", "sock", "toolkit-path")))
    assert seen["interfaces"] == ["lo"], seen["interfaces"]
    before.assert_unchanged()
