"""Loads that outlast the call, loads that fail, and bad TargetModels: each answered SageMaker's way
while the endpoint keeps serving its other models."""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.multimodel.models import deploy_multi_model, echo_model, invoke


@pytest.fixture()
def prefix(tmp_path: Path) -> Path:
    directory = tmp_path / "prefix"
    directory.mkdir()
    shutil.copy(echo_model(tmp_path / "good", "good"), directory / "good.tar.gz")
    return directory


def _call(runtime, endpoint: str, target: str):  # type: ignore[no-untyped-def]
    return runtime.invoke_endpoint(EndpointName=endpoint, TargetModel=target, ContentType="application/json",
                                   Body=json.dumps({"x": [1]}))


def test_a_load_longer_than_the_timeout_is_not_ready_then_served(sm, runtime, prefix, tmp_path, unique):  # type: ignore[no-untyped-def]
    shutil.copy(echo_model(tmp_path / "slow", "slow", load_sleep=9), prefix / "slow.tar.gz")
    deploy_multi_model(sm, unique, f"file://{prefix}/")
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(_call, runtime, unique, "slow.tar.gz")
        assert invoke(runtime, unique, "good.tar.gz")["name"] == "good"
        assert time.monotonic() - started < 9, "a load blocked a call to another model"
        with pytest.raises(runtime.exceptions.ModelNotReadyException) as caught:
            slow.result()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert "slow.tar.gz" in caught.value.response["Error"]["Message"]
    assert invoke(runtime, unique, "slow.tar.gz")["name"] == "slow"


def test_a_failing_model_fn_is_a_model_error_and_poisons_nothing(sm, runtime, prefix, tmp_path, unique):  # type: ignore[no-untyped-def]
    shutil.copy(echo_model(tmp_path / "bad", "bad", fail="weights are corrupt"), prefix / "bad.tar.gz")
    deploy_multi_model(sm, unique, f"file://{prefix}/")
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        invoke(runtime, unique, "bad.tar.gz")
    error = caught.value.response
    assert "bad.tar.gz" in error["Error"]["Message"] and "weights are corrupt" in error["Error"]["Message"]
    assert error["OriginalStatusCode"] == 500 and "LogStreamArn" in error
    assert invoke(runtime, unique, "good.tar.gz")["name"] == "good"
    shutil.copy(echo_model(tmp_path / "fixed", "fixed"), prefix / "bad.tar.gz")
    assert invoke(runtime, unique, "bad.tar.gz")["name"] == "fixed"


def test_bad_target_models_are_validation_errors(sm, runtime, prefix, tmp_path, unique):  # type: ignore[no-untyped-def]
    (prefix / "junk.tar.gz").write_bytes(b"this is not a tarball")
    outside = tmp_path / "outside.tar.gz"
    shutil.copy(echo_model(tmp_path / "out", "out"), outside)
    (prefix / "link.tar.gz").symlink_to(outside)
    deploy_multi_model(sm, unique, f"file://{prefix}/")
    for target, says in (("missing.tar.gz", "no object"), ("../outside.tar.gz", "'..'"),
                         ("%2e%2e/outside.tar.gz", "'..'"), ("%252e%252e/outside.tar.gz", "'..'"),
                         ("a//b.tar.gz", "empty"), ("junk.tar.gz", "not a .tar"), ("link.tar.gz", "leaves")):
        with pytest.raises(runtime.exceptions.ValidationError) as caught:
            _call(runtime, unique, target)
        assert says in caught.value.response["Error"]["Message"], (target, caught.value.response)
    assert invoke(runtime, unique, "good.tar.gz")["name"] == "good"


def test_uninstallable_requirements_are_a_model_error(sm, runtime, prefix, tmp_path, unique):  # type: ignore[no-untyped-def]
    shutil.copy(echo_model(tmp_path / "req", "req", requirements="nonexistent-package-zz9==1.0\n"),
                prefix / "req.tar.gz")
    deploy_multi_model(sm, unique, f"file://{prefix}/")
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        invoke(runtime, unique, "req.tar.gz")
    message = caught.value.response["Error"]["Message"]
    assert "req.tar.gz" in message and "nonexistent-package-zz9" in message and "requirements.txt" in message
    assert invoke(runtime, unique, "good.tar.gz")["name"] == "good"
