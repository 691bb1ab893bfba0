"""Fixtures of the escape suite: the real sandboxed backend and the runtime tests' helpers."""

from __future__ import annotations

from tests.runtime.conftest import plain_backend, sandboxed_backend

__all__ = ["plain_backend", "sandboxed_backend"]
