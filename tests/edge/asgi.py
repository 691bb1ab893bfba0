"""Drive an ASGI application in-process: one HTTP request in, the complete response out."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


@dataclass
class Answer:
    """A complete HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict[str, Any]:
        """The JSON error document."""
        document: dict[str, Any] = json.loads(self.body)
        return document


async def request(app: App, method: str, path: str, headers: dict[str, str] | None = None,
                  body: bytes = b"", chunk: int = 1 << 20) -> Answer:
    """Send one request through ``app``, its body in chunks of ``chunk`` bytes."""
    pieces = [body[i:i + chunk] for i in range(0, len(body), chunk)] or [b""]
    messages = [{"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
                for i, piece in enumerate(pieces)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    path, _, query = path.partition("?")
    scope = {"type": "http", "method": method, "path": path, "query_string": query.encode(),
             "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]}
    await app(scope, receive, send)
    start, *bodies = sent
    return Answer(start["status"], {k.decode(): v.decode() for k, v in start["headers"]},
                  b"".join(m.get("body", b"") for m in bodies))
