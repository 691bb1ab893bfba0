"""Models leave memory: past the instance's memory budget (least recently used first), after an idle
TTL, and after every call with ModelCacheSetting Disabled; stopping a model's process returns its memory."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from tests.multimodel.conftest import IDLE_SECONDS, MEMORY_BUDGET
from tests.multimodel.models import deploy_multi_model, echo_model, invoke, processes_of

BALLAST_MB = 200


def _settled(endpoint: str, check, timeout: float = 30.0) -> dict[int, int]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        found = processes_of(endpoint)
        if check(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_the_memory_budget_unloads_the_least_recently_used_and_memory_comes_back(  # type: ignore[no-untyped-def]
        sm, runtime, tmp_path, unique):
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    for name in ("big1", "big2"):
        shutil.copy(echo_model(tmp_path / name, name, ballast_mb=BALLAST_MB), prefix / f"{name}.tar.gz")
    deploy_multi_model(sm, unique, f"file://{prefix}/")
    first = invoke(runtime, unique, "big1.tar.gz")
    one_model = processes_of(unique)
    held = sum(one_model.values())
    assert BALLAST_MB << 20 < held < MEMORY_BUDGET

    invoke(runtime, unique, "big2.tar.gz")
    after = _settled(unique, lambda found: not set(found) & set(one_model))
    assert not set(after) & set(one_model), "big1's processes are still running"
    assert sum(after.values()) < held * 1.5, "the evicted model's memory did not come back"

    assert invoke(runtime, unique, "big1.tar.gz")["process"] != first["process"]


def test_idle_models_are_unloaded(sm, runtime, tmp_path: Path, unique):  # type: ignore[no-untyped-def]
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    shutil.copy(echo_model(tmp_path / "m", "m"), prefix / "m.tar.gz")
    deploy_multi_model(sm, unique, f"file://{prefix}/")
    first = invoke(runtime, unique, "m.tar.gz")
    assert processes_of(unique)
    assert _settled(unique, lambda found: not found, timeout=IDLE_SECONDS + 10) == {}
    assert invoke(runtime, unique, "m.tar.gz")["process"] != first["process"]


def test_model_cache_disabled_unloads_after_every_call(sm, runtime, tmp_path: Path, unique):  # type: ignore[no-untyped-def]
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    shutil.copy(echo_model(tmp_path / "m", "m"), prefix / "m.tar.gz")
    deploy_multi_model(sm, unique, f"file://{prefix}/", cache="Disabled")
    first = invoke(runtime, unique, "m.tar.gz")
    assert _settled(unique, lambda found: not found, timeout=10) == {}
    assert invoke(runtime, unique, "m.tar.gz")["process"] != first["process"]
