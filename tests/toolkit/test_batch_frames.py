"""Several records in one frame (``invoke-batch``) against a real toolkit: each record is its own call of
the user's hooks (its own context, status, content type and custom attributes; an error stays with its
record), answered together in one frame; a batch whose lengths do not fit its body is refused with a 400
and the connection goes on; a toolkit whose answer does not fit the batch (user code patched it) is
caught by the router's lane, which closes the connection instead of handing out wrong replies."""

from __future__ import annotations

import asyncio
import time

import pytest

from modelyard.hosting.frame_pipeline import BadBatchAnswer, FramePipeline, RecordTimedOut
from modelyard.hosting.instances import FramedInstance, Invocation
from modelyard.toolkit import framing

COUNTING = """
import itertools

calls = itertools.count(1)

def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept, context):
    text = body.decode()
    number = next(calls)
    context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", f"call={number}")
    context.get_all_request_header(0)["X-Seen"] = text
    if text == "fail":
        raise RuntimeError("cannot handle record fail")
    if text == "teapot":
        context.set_response_status(418)
    if text == "headers":
        return str(sorted(k for k in context.get_all_request_header(0) if k == "X-Seen")), "text/plain"
    return f"{text}:{accept}", "text/x-" + text
"""


def _run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def test_each_record_of_a_batch_is_its_own_call_with_its_own_answer(serve) -> None:
    toolkit = serve({"inference.py": COUNTING})
    records = [b"a", b"fail", b"teapot", b"headers", b"", b"z" * 70000]

    async def scenario():  # type: ignore[no-untyped-def]
        pipe = FramePipeline(FramedInstance(toolkit.socket_path), 4)
        answers = await pipe.invoke_batch(records, "text/plain", "text/csv", 30.0)
        first = [answers.reply(index) for index in range(len(records))]
        assert answers.statuses == [reply.status for reply in first]
        assert answers.bodies == [reply.body for reply in first]
        second = await pipe.invoke(Invocation(b"after", "text/plain", "text/csv"), 30.0)
        pipe.close()
        return first, second

    replies, after = _run(scenario())
    assert len(replies) == len(records)
    assert (replies[0].status, replies[0].body, replies[0].content_type) == (200, b"a:text/csv", "text/x-a")
    assert replies[1].status == 500 and b"cannot handle record fail" in replies[1].body
    assert replies[2].status == 418 and replies[2].body == b"teapot:text/csv"
    assert replies[3].body == b"['X-Seen']", "a record saw the headers another record's call changed"
    assert replies[4].body == b":text/csv"
    assert replies[5].body == b"z" * 70000 + b":text/csv"
    assert [reply.custom_attributes for reply in replies] == ["call=1", None] + [f"call={n}" for n in range(3, 7)]
    assert after.custom_attributes == "call=7"


@pytest.mark.parametrize("lengths, words", [
    ([1, 1], "add up to 2 bytes but the body has 3"),
    ([1, -1, 3], "not a non-negative integer"),
    ([1, "2"], "not a non-negative integer"),
    ([], "non-empty list"),
    ("3", "non-empty list"),
    ([0] * (framing.MAX_BATCH_RECORDS + 1), f"exceeds {framing.MAX_BATCH_RECORDS}"),
])
def test_a_batch_whose_lengths_do_not_fit_is_refused_and_the_connection_goes_on(serve, lengths, words: str) -> None:
    toolkit = serve({"inference.py": COUNTING})
    client = toolkit.client()
    header, body = _batch(client, lengths, b"abc", "text/plain", None)
    assert header["status"] == 400 and words in body.decode(), (header, body)
    header, body = _batch(client, [2, 1], b"abc", "text/plain", "x")
    assert header["status"] == 200 and body == b"ab:xc:x"
    assert [entry[:2] for entry in header["results"]] == [[200, 4], [200, 3]]
    client.close()


def _batch(client, lengths, body: bytes, content_type: str, accept: str | None):  # type: ignore[no-untyped-def]
    header = {**framing.request_header(framing.OP_INVOKE_BATCH, content_type, accept), "lengths": lengths}
    client.send_raw(framing.encode_frame(header, body))
    frame = client.read_frame()
    assert frame is not None
    return frame


HOSTILE = """
import modelyard.toolkit.handler as handler

MODE = {mode!r}
real = handler.Handler.invoke_batch

def lying(self, *args):
    response = real(self, *args)
    if MODE == "count":
        response.results.pop()
    elif MODE == "length":
        response.results[0][1] += 5
    elif MODE == "field":
        response.results[0][0] = "200"
    elif MODE == "plain":
        response.results = None
    return response

def model_fn(model_dir):
    handler.Handler.invoke_batch = lying
    return None

def transform_fn(model, body, content_type, accept):
    return body
"""


@pytest.mark.parametrize("mode, words", [
    ("count", "answered 2 results to a batch of 3 records"),
    ("length", "add up to"),
    ("field", "malformed batch result"),
    ("plain", "with status 200 and no results"),
])
def test_an_answer_that_does_not_fit_the_batch_is_caught_and_closes_the_lane(serve, mode: str, words: str) -> None:
    toolkit = serve({"inference.py": HOSTILE.format(mode=mode)})

    async def scenario():  # type: ignore[no-untyped-def]
        pipe = FramePipeline(FramedInstance(toolkit.socket_path), 4)
        with pytest.raises(BadBatchAnswer) as info:
            await pipe.invoke_batch([b"a", b"bb", b"ccc"], "text/plain", None, 30.0)
        closed = pipe._conn is not None and pipe._conn.closed
        again = await pipe.invoke(Invocation(b"fresh"), 30.0)
        pipe.close()
        return str(info.value), closed, again

    message, closed, again = _run(scenario())
    assert words in message, message
    assert closed
    assert again.body == b"fresh"


SLEEPY = """
import time

def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    text = body.decode()
    if text.startswith("sleep:"):
        time.sleep(float(text[6:]))
    return text
"""


def test_the_timeout_is_per_record_and_a_record_past_it_stops_its_batch(serve) -> None:
    """Four records of 0.3 s each under a 0.5 s timeout all answer (1.2 s in all); a record that runs 10 s is
    named by the toolkit once it has run 0.5 s, and the toolkit frees its handler (a fresh call answers)."""
    toolkit = serve({"inference.py": SLEEPY})

    async def scenario():  # type: ignore[no-untyped-def]
        pipe = FramePipeline(FramedInstance(toolkit.socket_path), 4)
        slow = await pipe.invoke_batch([b"sleep:0.3"] * 4, "text/plain", None, 0.5)
        started = time.monotonic()
        with pytest.raises(RecordTimedOut) as info:
            await pipe.invoke_batch([b"a", b"sleep:10", b"c"], "text/plain", None, 0.5)
        stopped = time.monotonic() - started
        for _ in range(100):
            try:
                after = await pipe.invoke(Invocation(b"after"), 30.0)
                break
            except OSError:
                await asyncio.sleep(0.1)
        pipe.close()
        return slow, info.value.index, stopped, after

    slow, index, stopped, after = _run(scenario())
    assert slow.statuses == [200] * 4 and slow.bodies == [b"sleep:0.3"] * 4
    assert index == 1
    assert stopped < 5, stopped
    assert after.body == b"after"
    assert "abandoned by its caller" in toolkit.stderr()
