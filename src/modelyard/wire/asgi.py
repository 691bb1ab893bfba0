"""Minimal ASGI plumbing shared by the control plane and the runtime: types, body reading, responses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.wire.streams import StreamedBody

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class BodyTooLarge(Exception):
    """Raised while reading a body past its limit."""


class ClientDisconnected(Exception):
    """Raised while reading a body whose client went away (or was cut by a read timeout)."""


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; raises BodyTooLarge past ``limit`` bytes, ClientDisconnected when cut off."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(size)
            chunks.append(chunk)
        if not message.get("more_body"):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


ZERO_COPY = "http.response.zerocopysend"
"""The ASGI extension a server offers (in ``scope["extensions"]``) to send a file range without copying it
through Python (``edge.zero_copy`` on modelyard's own protocol)."""


def offers_zero_copy(scope: Scope) -> bool:
    """Whether the server behind ``scope`` takes ``http.response.zerocopysend`` messages."""
    return ZERO_COPY in (scope.get("extensions") or {})


async def respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes | StreamedBody,
                  zero_copy: bool = False) -> None:
    """Send a response: a complete body with its length, or a streamed body (a ``FileBody``, whose
    headers carry its content-length, or an event stream, sent chunked) chunk by chunk; a ``FileBody``
    goes as one zero-copy message when ``zero_copy`` (the server offers the extension)."""
    if isinstance(body, bytes):
        if not any(name == b"content-length" for name, _ in headers):
            headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    try:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        message = body.zero_copy_message() if zero_copy and hasattr(body, "zero_copy_message") else None
        if message is not None:
            await send(message)
            return
        async for chunk in body.chunks():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        body.close()
