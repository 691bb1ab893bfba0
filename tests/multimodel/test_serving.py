"""A multi-model endpoint serves every model under its prefix, each loaded on first call."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.multimodel.models import deploy_multi_model, echo_model, invoke, processes_of


def test_models_under_an_s3_prefix_load_on_first_call_and_stay(sm, runtime, s3, tmp_path, unique):  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket=unique)
    for name in ("m1", "m2"):
        s3.upload_file(str(echo_model(tmp_path / name, name, scale=3)), unique, f"models/a/b/{name}.tar.gz")
    described = deploy_multi_model(sm, unique, f"s3://{unique}/models/")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")

    first = invoke(runtime, unique, "a/b/m1.tar.gz", {"x": [1, 2]})
    assert first["name"] == "m1" and first["y"] == [3, 6]
    again = invoke(runtime, unique, "a/b/m1.tar.gz")
    assert again["process"] == first["process"]
    other = invoke(runtime, unique, "a/b/m2.tar.gz")
    assert other["name"] == "m2" and other["process"] != first["process"]

    s3.upload_file(str(echo_model(tmp_path / "m3", "m3")), unique, "models/m3.tar.gz")
    assert invoke(runtime, unique, "m3.tar.gz")["name"] == "m3"


def test_a_changed_artifact_is_loaded_again(sm, runtime, s3, tmp_path, unique):  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket=unique)
    s3.upload_file(str(echo_model(tmp_path / "v1", "v1")), unique, "p/m.tar.gz")
    deploy_multi_model(sm, unique, f"s3://{unique}/p/")
    assert invoke(runtime, unique, "m.tar.gz")["name"] == "v1"
    s3.upload_file(str(echo_model(tmp_path / "v2", "v2")), unique, "p/m.tar.gz")
    assert invoke(runtime, unique, "m.tar.gz")["name"] == "v2"


def test_file_prefix_and_conflicting_requirements_side_by_side(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    for name, pin in (("old", "six==1.16.0"), ("new", "six==1.17.0"), ("same", "six==1.16.0")):
        shutil.copy(echo_model(tmp_path / name, name, requirements=pin + "\n"), prefix / f"{name}.tar.gz")
    deploy_multi_model(sm, unique, f"file://{prefix}/")
    assert invoke(runtime, unique, "old.tar.gz")["six"] == "1.16.0"
    assert invoke(runtime, unique, "new.tar.gz")["six"] == "1.17.0"
    assert invoke(runtime, unique, "same.tar.gz")["six"] == "1.16.0"
    assert invoke(runtime, unique, "old.tar.gz")["six"] == "1.16.0"


def test_concurrent_first_calls_share_one_load(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    shutil.copy(echo_model(tmp_path / "slow", "slow", load_sleep=1.0), prefix / "slow.tar.gz")
    deploy_multi_model(sm, unique, f"file://{prefix}/")
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: invoke(runtime, unique, "slow.tar.gz"), range(40)))
    assert len({a["process"] for a in answers}) == 1


@pytest.mark.parametrize("env, workers", [({}, 1), ({"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}, 2)])
def test_each_model_runs_one_worker_unless_the_environment_sets_the_count(  # type: ignore[no-untyped-def]
        sm, runtime, tmp_path, unique, env, workers):
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    shutil.copy(echo_model(tmp_path / "slow", "slow", predict_sleep=1.0), prefix / "slow.tar.gz")
    deploy_multi_model(sm, unique, f"file://{prefix}/", env=env)
    invoke(runtime, unique, "slow.tar.gz")
    with ThreadPoolExecutor(2) as pool:  # two rounds of two calls at once, each on a connection of its own
        answers = [answer for _ in range(2)
                   for answer in pool.map(lambda _: invoke(runtime, unique, "slow.tar.gz"), range(2))]
    assert len({answer["process"] for answer in answers}) == workers


def test_without_target_model_is_a_validation_error(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    deploy_multi_model(sm, unique, f"file://{prefix}/")
    with pytest.raises(runtime.exceptions.ValidationError, match="TargetModel"):
        runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json", Body=json.dumps({}))


def test_calls_go_to_the_instance_that_holds_the_model(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    for name in ("m1", "m2"):
        shutil.copy(echo_model(tmp_path / name, name), prefix / f"{name}.tar.gz")
    deploy_multi_model(sm, unique, f"file://{prefix}/", count=2)
    assert sm.describe_endpoint(EndpointName=unique)["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    for target in ("m1.tar.gz", "m2.tar.gz"):
        assert len({invoke(runtime, unique, target)["process"] for _ in range(8)}) == 1


def test_a_hot_model_is_loaded_on_more_instances_under_load(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    shutil.copy(echo_model(tmp_path / "hot", "hot", predict_sleep=0.3), prefix / "hot.tar.gz")
    deploy_multi_model(sm, unique, f"file://{prefix}/", count=2)
    first = invoke(runtime, unique, "hot.tar.gz")["process"]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: invoke(runtime, unique, "hot.tar.gz"), range(48)))
    assert all(answer["name"] == "hot" for answer in answers)
    processes = {answer["process"] for answer in answers}
    assert first in processes and len(processes) == 2, "eight calls at once on one holder should load it on the other"


def test_a_model_whose_process_died_is_loaded_again_by_its_next_call(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    """The host learns of the death from the event loop (a pidfd), not from a poll per call: the next call
    after the process is gone loads the model again instead of failing on its closed socket."""
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    shutil.copy(echo_model(tmp_path / "m", "m"), prefix / "m.tar.gz")
    deploy_multi_model(sm, unique, f"file://{prefix}/")
    first = invoke(runtime, unique, "m.tar.gz")
    pids = processes_of(unique)
    assert pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while processes_of(unique) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes_of(unique)
    time.sleep(0.2)
    again = invoke(runtime, unique, "m.tar.gz")
    assert again["name"] == "m" and again["process"] != first["process"]
