"""What the toolkit answers, independent of the transport (frames or HTTP)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from modelyard.toolkit.context import (
    ACCEPT,
    CONTENT_TYPE,
    CUSTOM_ATTRIBUTES,
    INFERENCE_ID,
    TARGET_MODEL,
    Headers,
)
from modelyard.toolkit.handler import Handler, Response, failure
from modelyard.toolkit.runner import HandlerThread

PING_OK = Response(200, b"", None)


class Service:
    """Ping, execution parameters and invocations over one loaded handler."""

    def __init__(self, handler: Handler, runner: HandlerThread) -> None:
        self.handler = handler
        self.runner = runner
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
               done: Callable[[Response], None]) -> None:
        """Queue an invocation on the handler thread; ``done(response)`` is called on ``loop``."""
        def finish(result: object) -> None:
            done(result if isinstance(result, Response) else failure(result))  # type: ignore[arg-type]

        self.runner.submit(loop, self.handler.invoke,
                           (body, headers.get(CONTENT_TYPE), headers.get(ACCEPT), headers), finish)

    @property
    def in_flight(self) -> int:
        """Invocations queued or running."""
        return self.runner.pending


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
