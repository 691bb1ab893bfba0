"""An instance's outstanding count, which least-outstanding routing reads and which the endpoint controller
waits to fall to zero before it stops and replaces an instance: a call that cannot even reach the toolkit
(its socket gone, or nothing listening: the process died or is being replaced) must not leave it raised,
or the crashed instance's replacement waits for ever (seen in CI: an async request dispatched to an
instance in the moment it was replaced, and the endpoint never served again)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from modelyard.hosting.instances import FramedInstance, Invocation


def _unreachable(tmp_path: Path, kind: str) -> str:
    path = tmp_path / "m.sock"
    if kind == "refused":
        with socket.socket(socket.AF_UNIX) as bound:
            bound.bind(str(path))
    return str(path)


@pytest.mark.parametrize("kind", ["missing", "refused"])
def test_calls_that_cannot_connect_leave_no_outstanding_count(tmp_path: Path, kind: str) -> None:
    instance = FramedInstance(_unreachable(tmp_path, kind))
    invocation = Invocation(b'{"x": [1]}', "application/json")
    body = tmp_path / "body"
    body.write_bytes(invocation.body)

    async def attempts() -> list[int]:
        counts = []
        calls = [lambda: instance.invoke(invocation, 2.0),
                 lambda: instance.invoke_file(invocation, str(body), str(tmp_path / "reply"), 2.0),
                 lambda: instance.invoke_stream(invocation, 2.0)]
        for call in calls:
            with pytest.raises(OSError):
                await call()
            counts.append(instance.outstanding)
        return counts

    assert asyncio.run(attempts()) == [0, 0, 0]
