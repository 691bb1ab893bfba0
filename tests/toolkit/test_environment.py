"""The toolkit's settings: the worker count SageMaker's toolkits choose when none is given."""

from __future__ import annotations

import os

import pytest

from modelyard.toolkit.environment import SettingsError, ToolkitSettings


def test_the_worker_count_defaults_to_the_containers_vcpus():
    settings = ToolkitSettings.from_environ({"MODELYARD_VCPUS": "3"})
    assert settings.workers == 3
    assert settings.execution_parameters["MaxConcurrentTransforms"] == 3


def test_outside_modelyard_the_worker_count_defaults_to_the_cpus_the_process_may_use():
    assert ToolkitSettings.from_environ({}).workers == len(os.sched_getaffinity(0))


def test_an_explicit_worker_count_wins_over_the_vcpus():
    settings = ToolkitSettings.from_environ({"MODELYARD_VCPUS": "8", "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
                                             "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "2"})
    assert settings.workers == 1
    assert settings.execution_parameters["MaxConcurrentTransforms"] == 2


@pytest.mark.parametrize("raw, problem", [("two", "is not an integer"), ("-1", "must be at least 0")])
def test_a_bad_vcpu_count_is_refused(raw, problem):
    with pytest.raises(SettingsError, match=problem):
        ToolkitSettings.from_environ({"MODELYARD_VCPUS": raw})
