"""What the toolkit answers, independent of the transport (frames or HTTP)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable

from modelyard.toolkit.context import (
    ACCEPT,
    CONTENT_TYPE,
    CUSTOM_ATTRIBUTES,
    INFERENCE_ID,
    TARGET_MODEL,
    Headers,
)
from modelyard.toolkit.handler import BatchProgress, Handler, PartSink, Response, failure
from modelyard.toolkit.runner import Call, HandlerThread

PING_OK = Response(200, b"", None)


class Service:
    """Ping, execution parameters and invocations over one loaded handler.

    An invocation its caller abandoned (the connection closed before the answer) is dropped if it is
    still waiting; if it is running, the handler thread is stuck with it and ``recycle`` is called
    (it restarts the serving process, the only way to stop a thread).
    """

    def __init__(self, handler: Handler, runner: HandlerThread,
                 recycle: Callable[[], None] | None = None) -> None:
        self.handler = handler
        self.runner = runner
        self.recycle = recycle
        self._calls: dict[Callable[[Response], None], Call] = {}
        self._parameters = Response(200, json.dumps(handler.settings.execution_parameters).encode(),
                                    "application/json")

    def ping(self) -> Response:
        """200 when the model is loaded, else 503."""
        if self.handler.loaded:
            return PING_OK
        return Response(503, b"model is not loaded", "text/plain; charset=utf-8")

    def execution_parameters(self) -> Response:
        """The batch-transform execution parameters."""
        return self._parameters

    def invoke(self, loop: asyncio.AbstractEventLoop, body: bytes, headers: Headers,
               done: Callable[[Response], None], stream: PartSink | None = None,
               reply: Callable[[Response], bool] | None = None) -> None:
        """Queue an invocation on the handler thread; ``done(response)`` is called on ``loop``, unless
        ``reply(response)`` (called on the handler thread first) delivers it and returns True. A generator
        result goes to ``stream`` part by part (called from the handler thread)."""
        self._submit(loop, self.handler.invoke,
                     (body, headers.get(CONTENT_TYPE), headers.get(ACCEPT), headers, stream), done, reply)

    def invoke_batch(self, loop: asyncio.AbstractEventLoop, bodies: list[bytes], headers: Headers,
                     done: Callable[[Response], None], reply: Callable[[Response], bool] | None = None,
                     progress: BatchProgress | None = None) -> None:
        """Queue several records, each run as its own invocation one after another (``Handler.invoke_batch``,
        which keeps ``progress``); one Response answers them all, delivered as ``invoke`` delivers one."""
        self._submit(loop, self.handler.invoke_batch,
                     (bodies, headers.get(CONTENT_TYPE), headers.get(ACCEPT), headers, progress), done, reply)

    def answer(self, loop: asyncio.AbstractEventLoop, response: Response, done: Callable[[Response], None],
               reply: Callable[[Response], bool] | None = None) -> None:
        """Answer ``response`` in the order of the invocations queued before it, delivered as they are."""
        self._submit(loop, _constant, (response,), done, reply)

    def _submit(self, loop: asyncio.AbstractEventLoop, func: Callable[..., Response], args: tuple[object, ...],
                done: Callable[[Response], None], reply: Callable[[Response], bool] | None) -> None:
        def finish(result: object) -> None:
            self._calls.pop(done, None)
            done(result if isinstance(result, Response) else failure(result))  # type: ignore[arg-type]

        direct = None
        if reply is not None:
            def direct(result: object) -> bool:
                if isinstance(result, Response) and reply(result):
                    self._calls.pop(done, None)
                    return True
                return False

        self._calls[done] = self.runner.submit(loop, func, args, finish, direct)

    def abandon(self, done: Callable[[Response], None]) -> None:
        """The caller of the invocation reporting to ``done`` is gone: drop it, or recycle if it runs."""
        call = self._calls.pop(done, None)
        if call is None:
            return
        if call is not self.runner.current:
            call.cancelled = True
            return
        print("modelyard-toolkit: an invocation was abandoned by its caller (invoke timeout) while the "
              "handler was still running it; restarting to free the handler", file=sys.stderr, flush=True)
        if self.recycle is not None:
            self.recycle()

    @property
    def in_flight(self) -> int:
        """Invocations queued or running."""
        return self.runner.in_flight


def _constant(response: Response) -> Response:
    return response


def frame_headers(header: dict[str, object]) -> Headers:
    """The request headers a handler sees, from a frame's JSON header."""
    headers = Headers()
    for key, name in ((CONTENT_TYPE, "content_type"), (ACCEPT, "accept"),
                      (CUSTOM_ATTRIBUTES, "custom_attributes"), (INFERENCE_ID, "inference_id"),
                      (TARGET_MODEL, "target_model")):
        value = header.get(name)
        if isinstance(value, str):
            headers[key] = value
    return headers
