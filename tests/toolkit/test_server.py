"""The serving process: bad frames, concurrency, readiness, SIGTERM, large bodies, the asyncio client."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import struct

import pytest

from modelyard.toolkit import framing
from tests.toolkit.support import Gate, wait_for

SLOW = """
import os, time

def model_fn(model_dir):
    if os.environ.get("LOAD_GATE"):
        with open(os.environ["LOAD_GATE"]) as gate:
            gate.read()
    time.sleep(float(os.environ.get("LOAD_SECONDS", "0")))
    return None

def transform_fn(model, body, content_type, accept):
    if content_type == "sleep":
        time.sleep(float(body))
    if content_type == "gate":
        with open(body) as gate:
            gate.read()
    return body
"""


def _gated(gate: Gate) -> bytes:
    return framing.encode_frame(framing.request_header("invoke", "gate"), str(gate.path).encode())


def test_invalid_json_header_gets_400_then_close_and_server_survives(serve):
    toolkit = serve({"inference.py": SLOW})
    client = toolkit.client()
    client.send_raw(struct.pack(">II", 9, 0) + b"{not json")
    header, body = client.read_frame()
    assert header["status"] == 400 and b"not valid UTF-8 JSON" in body
    assert client.closed_by_peer()
    assert toolkit.client().request("ping")[0]["status"] == 200


def test_absurd_length_gets_400_then_close(serve):
    toolkit = serve({"inference.py": SLOW})
    client = toolkit.client()
    client.send_raw(struct.pack(">II", 20, (1 << 30) + 1))
    header, body = client.read_frame()
    assert header["status"] == 400 and b"exceeds" in body
    assert client.closed_by_peer()
    assert toolkit.client().invoke("ok", content_type="x")[1] == b"ok"


def test_unknown_op_and_non_object_header_keep_or_close(serve):
    toolkit = serve({"inference.py": SLOW})
    client = toolkit.client()
    header, body = client.request("launch-missiles")
    assert header["status"] == 400 and b"unknown op" in body
    assert client.request("ping")[0]["status"] == 200
    client.send_raw(struct.pack(">II", 6, 0) + b"[1, 2]")
    assert client.read_frame()[0]["status"] == 400
    assert client.closed_by_peer()


def test_garbage_and_abrupt_disconnects_do_not_crash_the_server(serve, tmp_path):
    toolkit = serve({"inference.py": SLOW})
    truncated = toolkit.client()
    truncated.send_raw(framing.encode_frame(framing.request_header("invoke"), b"x" * 100)[:-10])
    truncated.close()
    gate = Gate(tmp_path)
    mid_invoke = toolkit.client()
    mid_invoke.send_raw(_gated(gate))
    gate.wait_entered()
    mid_invoke.close()
    gate.release()
    try:
        answer = toolkit.client().invoke("alive", content_type="x")
    except ConnectionResetError:
        # the single-process server recycles itself in place after the orphaned call; a connection it
        # had accepted just before is reset, and the router retries such a call once (hosting.invoke)
        answer = toolkit.client().invoke("alive", content_type="x")
    assert answer[1] == b"alive"
    assert toolkit.process.poll() is None


def test_pipelined_requests_are_answered_in_order(serve):
    toolkit = serve({"inference.py": SLOW})
    client = toolkit.client()
    frames = [framing.encode_frame(framing.request_header("invoke", "sleep"), b"0.05"),
              framing.encode_frame(framing.request_header("ping")),
              framing.encode_frame(framing.request_header("invoke", "x"), b"second")]
    client.send_raw(b"".join(frames))
    assert client.read_frame()[1] == b"0.05"
    assert client.read_frame() == ({"status": 200, "content_type": None, "custom_attributes": None}, b"")
    assert client.read_frame()[1] == b"second"


def test_ping_answers_while_the_handler_is_busy_and_invokes_queue_in_order(serve, tmp_path):
    toolkit = serve({"inference.py": SLOW})
    first, second = Gate(tmp_path, "first"), Gate(tmp_path, "second")
    clients = [toolkit.client(), toolkit.client()]
    clients[0].send_raw(_gated(first))
    first.wait_entered()
    clients[1].send_raw(_gated(second))
    assert toolkit.client().request("ping")[0]["status"] == 200
    second.assert_not_entered()  # one handler thread: the second call waits for the first
    first.release()
    header, body = clients[0].read_frame()
    assert (header["status"], body) == (200, str(first.path).encode())
    second.wait_entered()
    second.release()
    assert clients[1].read_frame()[1] == str(second.path).encode()


def test_socket_appears_only_after_model_fn_returns(serve, tmp_path):
    gate = Gate(tmp_path)
    toolkit = serve({"inference.py": SLOW}, env={"LOAD_GATE": str(gate.path)}, ready=False)
    gate.wait_entered()
    assert not os.path.exists(toolkit.socket_path)
    with socket.socket(socket.AF_UNIX) as sock, pytest.raises((FileNotFoundError, ConnectionRefusedError)):
        sock.connect(toolkit.socket_path)
    gate.release()
    toolkit.wait_ready()
    assert toolkit.client().request("ping")[0]["status"] == 200
    out = toolkit.stdout()
    assert out.index("model loaded") < out.index("listening on unix:")


def test_sigterm_exits_cleanly_and_removes_the_socket(serve):
    toolkit = serve({"inference.py": SLOW})
    assert toolkit.client().request("ping")[0]["status"] == 200
    assert toolkit.terminate() == 0
    assert not os.path.exists(toolkit.socket_path)
    assert "stopping" in toolkit.stdout()


def test_sigterm_lets_the_request_in_flight_finish(serve, tmp_path):
    toolkit = serve({"inference.py": SLOW})
    gate = Gate(tmp_path)
    client = toolkit.client()
    client.send_raw(_gated(gate))
    gate.wait_entered()
    toolkit.process.send_signal(signal.SIGTERM)
    wait_for(lambda: "stopping" in toolkit.stdout(), toolkit)
    assert "1 request(s) in flight" in toolkit.stdout()
    gate.release()
    header, body = client.read_frame()
    assert (header["status"], body) == (200, str(gate.path).encode())
    assert toolkit.wait_exit() == 0


def test_sigterm_during_load_exits_cleanly(serve):
    toolkit = serve({"inference.py": SLOW}, env={"LOAD_SECONDS": "30"}, ready=False)
    wait_for(lambda: "loading model" in toolkit.stdout(), toolkit)
    toolkit.process.send_signal(signal.SIGTERM)
    assert toolkit.wait_exit(10) == 0
    assert not os.path.exists(toolkit.socket_path)
    assert not os.path.exists(toolkit.socket_path + ".tmp")


def test_large_bodies_round_trip(serve):
    toolkit = serve({"inference.py": SLOW})
    body = os.urandom(12 * 1024 * 1024)
    header, got = toolkit.client().invoke(body, content_type="application/octet-stream")
    assert header["status"] == 200 and got == body


def test_execution_parameters_from_environment(serve):
    toolkit = serve({"inference.py": SLOW}, env={"SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "4",
                                                 "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20"})
    header, body = toolkit.client().request("execution-parameters")
    assert header["status"] == 200 and header["content_type"] == "application/json"
    assert json.loads(body) == {"MaxConcurrentTransforms": 4, "BatchStrategy": "MultiRecord",
                                "MaxPayloadInMB": 20}


def test_invalid_settings_and_missing_listener_fail_fast(serve, tmp_path):
    bad = serve({"inference.py": SLOW}, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "lots"}, ready=False)
    assert bad.wait_exit() == 64
    assert "SAGEMAKER_MODEL_SERVER_WORKERS='lots' is not an integer" in bad.stderr()
    nowhere = serve({"inference.py": SLOW}, env={"MODELYARD_SOCKET": str(tmp_path / "no" / "dir" / "s")},
                    ready=False)
    assert nowhere.wait_exit() == 1
    assert "cannot bind unix socket" in nowhere.stderr()


def test_asyncio_call_helper_with_many_concurrent_connections(serve):
    toolkit = serve({"inference.py": SLOW})

    async def one(index: int) -> bytes:
        reader, writer = await asyncio.open_unix_connection(toolkit.socket_path)
        try:
            bodies = []
            for round_ in range(5):
                header, body = await framing.call(
                    reader, writer, framing.request_header("invoke", "x"), f"{index}-{round_}".encode())
                assert header["status"] == 200
                bodies.append(body)
            return b",".join(bodies)
        finally:
            writer.close()

    async def scenario() -> list[bytes]:
        return await asyncio.gather(*(one(i) for i in range(20)))

    results = asyncio.run(scenario())
    assert results == [",".join(f"{i}-{r}" for r in range(5)).encode() for i in range(20)]
