"""Settings come from ``MODELYARD_*`` variables, grouped into typed limits, with explicit overrides last."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.settings import CaptureLimits, DataLimits, EdgeLimits, Limits, settings_from_env


def test_no_variables_give_the_defaults() -> None:
    settings = settings_from_env({})
    assert (settings.limits, settings.edge, settings.data_limits) == (Limits(), EdgeLimits(), DataLimits())
    assert settings.capture == CaptureLimits()


def test_each_group_reads_its_own_variables() -> None:
    settings = settings_from_env({"MODELYARD_INVOKE_TIMEOUT_SECONDS": "2.5", "MODELYARD_MAX_HEADER_BYTES": "4096",
                                  "MODELYARD_ARTIFACT_CACHE_BYTES": "1000", "MODELYARD_CAPTURE_ROTATE_SECONDS": "0.5",
                                  "MODELYARD_CAPTURE_QUEUE_RECORDS": "7"})
    assert settings.limits == Limits(invoke_timeout_seconds=2.5)
    assert settings.edge == EdgeLimits(max_header_bytes=4096)
    assert settings.data_limits == DataLimits(artifact_cache_bytes=1000)
    assert settings.capture == CaptureLimits(rotate_seconds=0.5, queue_records=7)


def test_overrides_win_over_variables(tmp_path: Path) -> None:
    settings = settings_from_env({"MODELYARD_PORT": "9000", "MODELYARD_DATA_DIR": "/nowhere"},
                                 port=9100, data_dir=tmp_path)
    assert (settings.port, settings.data_dir) == (9100, tmp_path)


def test_a_malformed_number_is_refused() -> None:
    with pytest.raises(ValueError):
        settings_from_env({"MODELYARD_MAX_CONNECTIONS": "many"})
