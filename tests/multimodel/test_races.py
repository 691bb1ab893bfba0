"""Concurrent calls over more models than the memory budget holds: every call is answered by the model it
named, never with an error, while models load, are evicted, change at the source, or are unloaded after
each call (ModelCacheSetting Disabled)."""

from __future__ import annotations

import json
import random
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import client_for
from tests.multimodel.models import deploy_multi_model, echo_model
from tests.support.server import ServerProcess, start_server

CONCURRENCY = 8
BUDGET = 64 * 1024 * 1024
"""About two echo models (each process holds some 25 MiB)."""


@pytest.fixture(scope="module")
def tight_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose instances hold about two models, with a timeout long enough that no call is told
    ModelNotReadyException on a loaded machine."""
    server = start_server(tmp_path_factory.mktemp("mme-tight"), env={
        "MODELYARD_INVOKE_TIMEOUT_SECONDS": "120", "MODELYARD_MME_MEMORY_BUDGET_BYTES": str(BUDGET),
        "MODELYARD_MME_REVALIDATE_SECONDS": "0"})
    yield server
    server.stop()


def _models(tmp_path: Path, names: list[str]) -> Path:
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    for name in names:
        shutil.copy(echo_model(tmp_path / name, name), prefix / f"{name}.tar.gz")
    return prefix


def _hammer(runtime, endpoint: str, targets: list[str], calls: int,  # type: ignore[no-untyped-def]
            expected: Callable[[str, str], bool], during: Callable[[], None] | None = None) -> Counter[str]:
    """``calls`` invocations at ``CONCURRENCY`` over ``targets`` (random order); the count of every
    failure by kind, and of replies from the wrong model."""
    failures: Counter[str] = Counter()
    lock = threading.Lock()
    rng = random.Random(11)
    order = [rng.choice(targets) for _ in range(calls)]

    def call(target: str) -> None:
        try:
            reply = runtime.invoke_endpoint(EndpointName=endpoint, TargetModel=f"{target}.tar.gz",
                                            ContentType="application/json", Body=json.dumps({"x": [1]}))
            name = json.loads(reply["Body"].read())["name"]
            kind = None if expected(target, name) else f"wrong model: {target} answered by {name}"
        except ClientError as exc:
            kind = f"{exc.response['Error']['Code']}: {exc.response['Error']['Message'][:200]}"
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none may stop the run
            kind = f"{type(exc).__name__}: {exc}"
        if kind is not None:
            with lock:
                failures[kind] += 1

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        done = [pool.submit(call, target) for target in order]
        if during is not None:
            during()
        for future in done:
            future.result()
    return failures


def test_calls_over_more_models_than_fit_all_succeed(tight_server, tmp_path, unique):  # type: ignore[no-untyped-def]
    names = [f"m{index}" for index in range(10)]
    prefix = _models(tmp_path, names)
    sm, runtime = client_for(tight_server, "sagemaker"), client_for(tight_server, "sagemaker-runtime")
    deploy_multi_model(sm, unique, f"file://{prefix}/")
    assert _hammer(runtime, unique, names, 160, lambda target, name: target == name) == Counter()


def test_calls_while_models_change_at_the_source_all_succeed(tight_server, tmp_path, unique):  # type: ignore[no-untyped-def]
    names = ["a", "b", "c"]
    prefix = _models(tmp_path, names)
    versions = {name: [echo_model(tmp_path / f"{name}-v{v}", f"{name}.v{v}") for v in range(3)] for name in names}
    sm, runtime = client_for(tight_server, "sagemaker"), client_for(tight_server, "sagemaker-runtime")
    deploy_multi_model(sm, unique, f"file://{prefix}/")

    def rewrite() -> None:
        for version in range(3):
            time.sleep(1.0)
            for name in names:
                staged = prefix / f".{name}.tmp"
                shutil.copy(versions[name][version], staged)
                staged.rename(prefix / f"{name}.tar.gz")

    def ok(target: str, name: str) -> bool:
        return name.split(".")[0] == target

    assert _hammer(runtime, unique, names, 160, ok, during=rewrite) == Counter()
    for name in names:
        reply = runtime.invoke_endpoint(EndpointName=unique, TargetModel=f"{name}.tar.gz",
                                        ContentType="application/json", Body=b'{"x": [1]}')
        assert json.loads(reply["Body"].read())["name"] == f"{name}.v2", "a changed model was served stale"


def test_cache_disabled_under_concurrency_all_succeed(tight_server, tmp_path, unique):  # type: ignore[no-untyped-def]
    names = ["p", "q", "r"]
    prefix = _models(tmp_path, names)
    sm, runtime = client_for(tight_server, "sagemaker"), client_for(tight_server, "sagemaker-runtime")
    deploy_multi_model(sm, unique, f"file://{prefix}/", cache="Disabled")
    assert _hammer(runtime, unique, names, 80, lambda target, name: target == name) == Counter()
