"""Settings come from ``MODELYARD_*`` variables, grouped into typed limits, with explicit overrides last."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelyard.settings import CaptureLimits, DataLimits, EdgeLimits, Limits, SettingError, settings_from_env


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


@pytest.mark.parametrize("variable, value, expected", [
    ("MODELYARD_MAX_CONNECTIONS", "many", "a whole number of at least 1"),
    ("MODELYARD_MAX_CONNECTIONS", "0", "a whole number of at least 1"),
    ("MODELYARD_PORT", "70000", "a whole number from 1 to 65535"),
    ("MODELYARD_AUTH", "maybe", "on or off (also true/false, 1/0, yes/no)"),
    ("MODELYARD_SANDBOX", "sometimes", "on or off (also true/false, 1/0, yes/no)"),
    ("MODELYARD_HEADER_TIMEOUT_SECONDS", "nan", "a number greater than 0"),
    ("MODELYARD_BODY_TIMEOUT_SECONDS", "-1", "a number greater than 0"),
    ("MODELYARD_TAR_MAX_RATIO", "inf", "a number of at least 1"),
    ("MODELYARD_ACCOUNT_ID", "12345", "a 12-digit AWS account id"),
    ("MODELYARD_FILE_URIS", "some", "one of any, allow-list, off"),
    ("MODELYARD_MEMORY_LIMIT_MB", "x", "a whole number of at least 1"),
    ("MODELYARD_DEFAULT_MEMORY_MB", "1.5", "a whole number of at least 1"),
])
def test_a_malformed_variable_names_itself_its_value_and_what_is_expected(variable: str, value: str,
                                                                          expected: str) -> None:
    with pytest.raises(SettingError) as refused:
        settings_from_env({variable: value})
    message = str(refused.value)
    assert message == f"{variable}={value!r} is not valid: {variable} must be {expected}"
    assert "\n" not in message


def test_switches_and_choices_read_their_spellings() -> None:
    settings = settings_from_env({"MODELYARD_AUTH": "OFF", "MODELYARD_SANDBOX": "yes", "MODELYARD_FILE_URIS": "Any",
                                  "MODELYARD_DECODE_WORKERS": "0", "MODELYARD_PORT": " 9000 "})
    assert (settings.auth, settings.sandbox, settings.file_uris, settings.edge.decode_workers, settings.port) == \
        (False, True, "any", 0, 9000)
    assert settings_from_env({"MODELYARD_MAX_CONNECTIONS": ""}).edge == EdgeLimits()


@pytest.mark.parametrize("variable, value", [("MODELYARD_MAX_CONNECTIONS", "many"), ("MODELYARD_AUTH", "maybe"),
                                             ("MODELYARD_MEMORY_LIMIT_MB", "x")])
def test_the_server_stops_at_start_on_a_malformed_variable(tmp_path: Path, variable: str, value: str) -> None:
    """``modelyard server`` prints one line naming the variable and exits 2, before it opens anything."""
    done = subprocess.run([sys.executable, "-m", "modelyard", "server", "--port", "1", "--data-dir",
                           str(tmp_path / "data")], capture_output=True, text=True, timeout=60,
                          env={**os.environ, variable: value})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"modelyard: {variable}={value!r} is not valid: "), lines
    assert "Traceback" not in done.stderr and not (tmp_path / "data").exists()


def test_keys_refuse_a_malformed_variable_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "modelyard", "keys", "list", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MODELYARD_ACCOUNT_ID": "acct"})
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("modelyard: MODELYARD_ACCOUNT_ID='acct' is not valid: MODELYARD_ACCOUNT_ID must "
                                   "be a 12-digit AWS account id")
