"""Several requests in flight on one connection to a real toolkit (what batch transform does): every
call gets its own answer, in order, whatever the handler's speed; a call's timeout counts from when
the toolkit can start it; a call that times out withdraws the ones queued behind it, which never run."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from modelyard.hosting.frame_client import Withdrawn
from modelyard.hosting.frame_pipeline import FramePipeline
from modelyard.hosting.instances import FramedInstance, Invocation

ECHO = """
import os, time

def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    if content_type == "sleep":
        seconds, _, tag = body.decode().partition(":")
        time.sleep(float(seconds))
        return tag
    if content_type == "fail":
        raise RuntimeError("cannot handle " + body.decode())
    if content_type == "mark":
        with open(body.decode(), "a") as marks:
            marks.write("ran\\n")
    return body
"""


def _run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


@pytest.mark.parametrize("depth, lanes, workers", [(16, 1, "1"), (4, 3, "1"), (8, 3, "2")])
def test_each_pipelined_call_gets_its_own_answer_while_some_records_are_slow(serve, depth: int, lanes: int,
                                                                             workers: str) -> None:
    toolkit = serve({"inference.py": ECHO}, env={"SAGEMAKER_MODEL_SERVER_WORKERS": workers})
    rng = random.Random(7)
    calls = [Invocation(f"0.05:slow-{i}".encode(), "sleep") if rng.random() < 0.03
             else Invocation(f"fast-{i}".encode(), "x") for i in range(600)]

    async def scenario() -> list[bytes]:
        instance = FramedInstance(toolkit.socket_path)
        pipes = [FramePipeline(instance, depth) for _ in range(lanes)]
        answers: list[bytes] = [b""] * len(calls)
        order = iter(range(len(calls)))

        async def worker(pipe: FramePipeline) -> None:
            for index in order:
                reply = await pipe.invoke(calls[index], 30.0)
                assert reply.status == 200, reply
                answers[index] = reply.body

        await asyncio.gather(*(worker(pipe) for pipe in pipes for _ in range(depth)))
        assert instance.outstanding == 0
        for pipe in pipes:
            pipe.close()
        return answers

    answers = _run(scenario())
    expected = [call.body.partition(b":")[2] if call.content_type == "sleep" else call.body for call in calls]
    assert answers == expected
    assert any(call.content_type == "sleep" for call in calls)


def test_a_failing_call_mid_pipeline_fails_alone(serve) -> None:
    toolkit = serve({"inference.py": ECHO})

    async def scenario() -> list[tuple[int, bytes]]:
        pipe = FramePipeline(FramedInstance(toolkit.socket_path), 8)
        calls = [Invocation(b"bad" if i == 5 else f"r{i}".encode(), "fail" if i == 5 else "x") for i in range(12)]
        replies = await asyncio.gather(*(pipe.invoke(call, 30.0) for call in calls))
        pipe.close()
        return [(reply.status, reply.body) for reply in replies]

    replies = _run(scenario())
    assert [status for status, _ in replies] == [200] * 5 + [500] + [200] * 6
    assert b"cannot handle bad" in replies[5][1]
    assert [body for _, body in replies[6:]] == [f"r{i}".encode() for i in range(6, 12)]


def test_a_call_queued_behind_a_slow_one_is_timed_from_its_own_start(serve) -> None:
    toolkit = serve({"inference.py": ECHO})

    async def scenario() -> list[bytes]:
        pipe = FramePipeline(FramedInstance(toolkit.socket_path), 4)
        replies = await asyncio.gather(pipe.invoke(Invocation(b"0.8:slow", "sleep"), 5.0),
                                       pipe.invoke(Invocation(b"0.05:quick", "sleep"), 0.5),
                                       pipe.invoke(Invocation(b"0.05:quicker", "sleep"), 0.5))
        pipe.close()
        return [reply.body for reply in replies]

    assert _run(scenario()) == [b"slow", b"quick", b"quicker"]


def test_a_timeout_withdraws_the_calls_behind_it_and_they_never_run(serve, tmp_path) -> None:
    toolkit = serve({"inference.py": ECHO})
    marks = tmp_path / "marks"

    async def scenario() -> tuple[list[BaseException | object], bytes]:
        pipe = FramePipeline(FramedInstance(toolkit.socket_path), 4)
        calls = [pipe.invoke(Invocation(b"3:late", "sleep"), 0.5)]
        calls += [pipe.invoke(Invocation(str(marks).encode(), "mark"), 30.0) for _ in range(3)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        for _ in range(100):
            try:
                after = await pipe.invoke(Invocation(b"after", "x"), 30.0)
                break
            except (OSError, Withdrawn):
                await asyncio.sleep(0.1)
        pipe.close()
        return results, after.body

    results, after = _run(scenario())
    assert isinstance(results[0], asyncio.TimeoutError)
    assert all(isinstance(result, Withdrawn) for result in results[1:]), results
    assert after == b"after"
    assert not marks.exists(), "a withdrawn call ran"
    assert "abandoned by its caller" in toolkit.stderr()


def test_a_lane_whose_instance_cannot_be_reached_fails_every_call_and_serves_again_once_it_can(serve) -> None:
    toolkit = serve({"inference.py": ECHO})
    path = Path(toolkit.socket_path)
    hidden = path.with_name("hidden.sock")

    async def scenario() -> tuple[list[BaseException | object], int, list[bytes]]:
        instance = FramedInstance(str(path))
        pipe = FramePipeline(instance, 4)
        path.rename(hidden)
        failed = await asyncio.wait_for(asyncio.gather(
            *(pipe.invoke(Invocation(f"r{i}".encode(), "x"), 5.0) for i in range(10)), return_exceptions=True), 10)
        left = instance.outstanding
        hidden.rename(path)
        replies = await asyncio.wait_for(asyncio.gather(
            *(pipe.invoke(Invocation(f"s{i}".encode(), "x"), 5.0) for i in range(10))), 10)
        pipe.close()
        return failed, left, [reply.body for reply in replies]

    failed, left, bodies = _run(scenario())
    assert all(isinstance(result, FileNotFoundError) for result in failed), failed
    assert left == 0
    assert bodies == [f"s{i}".encode() for i in range(10)]
