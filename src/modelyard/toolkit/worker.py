"""A worker process of the pool (``python -m modelyard.toolkit worker <fd>``).

It loads the model, sends a ``{"op": "ready"}`` frame on the inherited socket, then answers
request frames one at a time on its main thread until the socket closes or SIGTERM arrives.
The parent answers pings and does all client I/O, so a blocking loop is all a worker needs.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from typing import Any

from modelyard.toolkit import framing
from modelyard.toolkit.context import Headers
from modelyard.toolkit.environment import ToolkitSettings
from modelyard.toolkit.routes import frame_headers
from modelyard.toolkit.startup import EXIT_LOAD_FAILED, LoadFailed, load_handler


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _headers(header: dict[str, Any]) -> Headers:
    forwarded = header.get("headers")
    if isinstance(forwarded, dict):
        return Headers({str(k): str(v) for k, v in forwarded.items()})
    return frame_headers(header)


def run(fd: int, settings: ToolkitSettings) -> int:
    """Serve the parent on socket ``fd``; returns the exit code."""
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    try:
        handler = load_handler(settings, lambda func, *args: func(*args))
    except LoadFailed as exc:
        print(exc.line, file=sys.stderr, flush=True)
        return EXIT_LOAD_FAILED
    sock.sendall(framing.encode_frame({"op": "ready", "pid": os.getpid()}))
    parser = framing.FrameParser()
    while True:
        data = sock.recv(1 << 20)
        if not data:
            return 0
        for header, body in parser.feed(data):
            headers = _headers(header)
            stream = SocketSink(sock) if header.get(framing.STREAM) else None
            response = handler.invoke(body, headers.get("Content-Type"), headers.get("Accept"), headers, stream)
            reply = (framing.stream_end_header(response.status) if response.streamed else
                     framing.response_header(response.status, response.content_type, response.custom_attributes))
            sock.sendall(b"".join(framing.frame_parts(reply, response.body)))


class SocketSink:
    """A streamed answer's start and part frames, sent to the parent as the handler yields them."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def start(self, status: int, content_type: str | None, custom_attributes: str | None) -> None:
        """Send the start frame."""
        self._sock.sendall(framing.encode_frame(framing.stream_start_header(status, content_type, custom_attributes)))

    def part(self, data: bytes) -> None:
        """Send one part frame."""
        self._sock.sendall(framing.encode_frame(framing.PART_HEADER, data))
