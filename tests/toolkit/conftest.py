"""Fixtures for toolkit tests: a factory of real toolkit processes, stopped after each test."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.toolkit.support import Toolkit, start, write_model


@pytest.fixture()
def serve(tmp_path: Path) -> Iterator[Callable[..., Toolkit]]:
    """``serve({"inference.py": src}, env={...}, ready=True)`` -> a running Toolkit."""
    started: list[Toolkit] = []

    def factory(files: dict[str, str], env: dict[str, str] | None = None, ready: bool = True,
                python: str = sys.executable) -> Toolkit:
        root = tmp_path / f"m{len(started)}"
        toolkit = start(write_model(root, files), env=env, ready=False, python=python)
        started.append(toolkit)
        return toolkit.wait_ready() if ready else toolkit

    yield factory
    for toolkit in started:
        toolkit.close()
