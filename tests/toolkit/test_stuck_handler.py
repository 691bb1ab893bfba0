"""An invocation whose caller gave up does not hold the handler for ever: the stuck worker is recycled.

The caller gives up by closing its connection (the server does so at the invoke timeout). The
handler blocks for ever on a marker input; the next normal call on a new connection is answered.
"""

from __future__ import annotations

import pytest

from tests.toolkit.support import Gate

STUCK = """
import os

def model_fn(model_dir):
    return os.getpid()

def transform_fn(model, body, content_type, accept):
    if content_type == "hang":
        with open(body) as fifo:
            fifo.read()
    return "served by %d" % model
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_abandoned_stuck_invocation_frees_the_handler(serve, tmp_path, workers: str) -> None:
    toolkit = serve({"inference.py": STUCK}, env={"SAGEMAKER_MODEL_SERVER_WORKERS": workers})
    gates = [Gate(tmp_path, f"gate-{index}") for index in range(int(workers))]
    stuck = []
    for gate in gates:
        client = toolkit.client()
        client.send_raw(_invoke(str(gate.path), "hang"))
        gate.wait_entered()
        stuck.append(client)
    for client in stuck:
        client.close()
    header, body = _invoke_retried(toolkit, attempts=int(workers) + 1)
    assert header["status"] == 200, body
    assert body.startswith(b"served by ")
    assert toolkit.process.poll() is None
    assert "abandoned by its caller" in toolkit.stderr()


def test_an_abandoned_waiting_invocation_is_never_run(serve, tmp_path) -> None:
    """The pings after the close let the toolkit see the closed connection before the handler frees up."""
    toolkit = serve({"inference.py": STUCK})
    running, waiting = Gate(tmp_path, "running"), Gate(tmp_path, "waiting")
    first = toolkit.client()
    first.send_raw(_invoke(str(running.path), "hang"))
    running.wait_entered()
    second = toolkit.client()
    second.send_raw(_invoke(str(waiting.path), "hang"))
    second.close()
    for _ in range(2):
        assert toolkit.client().request("ping")[0]["status"] == 200
    running.release()
    header, _ = first.read_frame() or ({}, b"")
    assert header["status"] == 200
    header, _ = toolkit.client().invoke("ok", content_type="text/plain")
    assert header["status"] == 200
    waiting.assert_not_entered()


def _invoke_retried(toolkit, attempts: int):  # type: ignore[no-untyped-def]
    """A normal call, retried on a reset connection as the server's invoke path and its callers do: a
    connection placed on a worker just before that worker saw its stuck call abandoned is reset, its
    request never run. Each worker retires once, so each can reset at most one attempt."""
    for _ in range(attempts - 1):
        try:
            return toolkit.client().invoke("ok", content_type="text/plain")
        except ConnectionError:
            continue
    return toolkit.client().invoke("ok", content_type="text/plain")


def _invoke(body: str, content_type: str) -> bytes:
    from modelyard.toolkit import framing

    return framing.encode_frame(framing.request_header("invoke", content_type=content_type), body.encode())
