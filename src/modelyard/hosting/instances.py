"""Clients for one running container instance, over its unix socket.

``FramedInstance`` speaks the toolkit's lean framing (``modelyard.toolkit.framing``); ``HttpInstance``
speaks the SageMaker container contract over HTTP (bring-your-own images). Both keep a pool of idle
connections and count outstanding requests for least-outstanding routing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from modelyard.hosting.frame_client import FrameConnection, invoke_header
from modelyard.toolkit import framing


@dataclass(frozen=True)
class Reply:
    """An instance's answer to an invocation."""

    status: int
    body: bytes
    content_type: str | None = None
    custom_attributes: str | None = None


@dataclass(frozen=True)
class ChainReply(Reply):
    """A multi-container instance's answer (a subclass, so a single container's answers stay as lean)."""

    container: str = ""
    """The container that gave this answer (the failing one, for an error)."""
    container_seconds: tuple[tuple[str, float], ...] = ()
    """How long each container that was called took, in call order."""


@dataclass(frozen=True)
class Invocation:
    """What the router sends to an instance."""

    body: bytes
    content_type: str | None = None
    accept: str | None = None
    custom_attributes: str | None = None
    inference_id: str | None = None
    target_model: str | None = None


@dataclass(frozen=True)
class DirectInvocation(Invocation):
    """An invocation of a Direct multi-container endpoint, for the container ``target_container``
    (its TargetContainerHostname)."""

    target_container: str = ""


class StreamFailure(Exception):
    """A streamed answer that broke after it began: ``code`` is SageMaker's ModelStreamError code
    (``ModelInvocationTimeExceeded``, ``StreamBroken``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StreamedReply:
    """An instance's answer to a streaming invocation: one whole ``body`` (a handler that returned
    bytes, or an error), or ``parts`` as the model produces them (raising StreamFailure)."""

    status: int
    content_type: str | None
    custom_attributes: str | None
    body: bytes = b""
    parts: AsyncIterator[bytes] | None = None


@dataclass(frozen=True)
class Ending:
    """How an instance's container ended: ``limit`` says which limit killed it (a sentence), if one did."""

    limit: str | None


class InstanceClient(Protocol):
    """A way to reach one instance."""

    outstanding: int
    timeouts: int
    """Invocations that timed out since the supervisor last checked the instance's health."""
    ended: Callable[[], Ending | None] | None
    """Set by the launcher: how the instance's container ended, or None while it runs."""

    async def invoke(self, invocation: Invocation, timeout: float) -> Reply:
        """Send one invocation; raises asyncio.TimeoutError or OSError."""

    async def invoke_file(self, invocation: Invocation, body_path: str, reply_path: str,
                          timeout: float) -> Reply:
        """Send one invocation whose body is the file ``body_path``, writing the answer's body to
        ``reply_path`` (neither held whole in memory); the Reply's body is empty. Raises like ``invoke``."""

    async def invoke_stream(self, invocation: Invocation, timeout: float) -> StreamedReply:
        """Send one invocation whose answer may come in parts; ``timeout`` bounds the wait for the first
        byte and between parts. Raises like ``invoke`` before the answer begins."""

    async def ping(self, timeout: float) -> bool:
        """Whether the instance answers its health check."""

    async def execution_parameters(self, timeout: float) -> bytes | None:
        """The container's GET /execution-parameters answer, or None when it has none."""

    async def close(self) -> None:
        """Close every pooled connection."""


class FramedInstance:
    """An instance running modelyard's toolkit, reached with length-prefixed frames."""

    restarts_when_stuck = True
    """The toolkit restarts itself (loading the model again) when a handler is stuck on a call its caller
    abandoned, and answers /ping again once it has."""

    def __init__(self, socket_path: str, max_idle: int = 32) -> None:
        self.socket_path = socket_path
        self.max_idle = max_idle
        self.outstanding = 0
        self.timeouts = 0
        self.ended: Callable[[], Ending | None] | None = None
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._idle_frames: list[FrameConnection] = []
        """Connections for whole-frame calls (invoke, ping); the streams above serve files and streams."""

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self._idle:
            reader, writer = self._idle.pop()
            if not (reader.at_eof() or writer.is_closing()):
                return reader, writer
            writer.close()
        return await self._open_streams()

    async def _open_streams(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A new connection to the instance as streams (file and streamed calls)."""
        return await asyncio.open_unix_connection(self.socket_path, limit=2**26)

    async def open_frames(self) -> FrameConnection:
        """A new connection to the instance for whole-frame calls."""
        return await FrameConnection.open(self.socket_path)

    def _release(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        if len(self._idle) < self.max_idle:
            self._idle.append(conn)
        else:
            conn[1].close()

    async def _call(self, header: dict[str, object] | bytes, body: bytes, timeout: float) -> tuple[dict, bytes]:  # type: ignore[type-arg]
        """One request frame (``header`` as a dict or already encoded) and its answer, on a pooled connection."""
        idle = self._idle_frames
        conn = None
        while idle:
            conn = idle.pop()
            if not conn.closed:
                break
            conn = None
        if conn is None:
            conn = await self.open_frames()
        raw = header if isinstance(header, bytes) else framing.encode_header(header)
        try:
            result = await conn.call(raw, body, timeout)
        except BaseException:
            conn.close()
            raise
        if len(idle) < self.max_idle:
            idle.append(conn)
        else:
            conn.close()
        return result

    async def invoke(self, invocation: Invocation, timeout: float) -> Reply:
        """Send one invocation frame and read the reply frame."""
        self.outstanding += 1
        try:
            header, body = await self._call(invoke_header(
                invocation.content_type, invocation.accept, invocation.custom_attributes, invocation.inference_id,
                invocation.target_model), invocation.body, timeout)
        finally:
            self.outstanding -= 1
        return Reply(int(header.get("status", 500)), body, header.get("content_type"),
                     header.get("custom_attributes"))

    async def invoke_file(self, invocation: Invocation, body_path: str, reply_path: str,
                          timeout: float) -> Reply:
        """Stream an invocation frame from ``body_path`` and its reply frame's body into ``reply_path``."""
        header = {"op": "invoke", "content_type": invocation.content_type, "accept": invocation.accept,
                  "custom_attributes": invocation.custom_attributes, "inference_id": invocation.inference_id,
                  "target_model": invocation.target_model}
        self.outstanding += 1
        try:
            reader, writer = await self._connection()
            try:
                async def exchange() -> dict[str, object]:
                    await framing.write_frame_from_file(writer, header, body_path)
                    return await framing.read_frame_into(reader, reply_path)

                answer = await asyncio.wait_for(exchange(), timeout)
            except BaseException:
                writer.close()
                raise
        finally:
            self.outstanding -= 1
        self._release((reader, writer))
        status = answer.get("status", 500)
        return Reply(status if isinstance(status, int) else 500, b"", _text(answer.get("content_type")),
                     _text(answer.get("custom_attributes")))

    async def invoke_stream(self, invocation: Invocation, timeout: float) -> StreamedReply:
        """Send a ``stream`` invocation frame; the first reply frame says whether parts follow."""
        header = {"op": "invoke", "content_type": invocation.content_type, "accept": invocation.accept,
                  "custom_attributes": invocation.custom_attributes, "inference_id": invocation.inference_id,
                  "target_model": invocation.target_model, framing.STREAM: True}
        self.outstanding += 1
        try:
            conn = await self._connection()
        except BaseException:
            self.outstanding -= 1
            raise
        try:
            await framing.write_frame(conn[1], header, invocation.body)
            first = await asyncio.wait_for(framing.read_frame(conn[0]), timeout)
            if first is None:
                raise ConnectionResetError("connection closed before a response frame")
        except BaseException:
            conn[1].close()
            self.outstanding -= 1
            raise
        answer, body = first
        status = answer.get("status", 500)
        status = status if isinstance(status, int) else 500
        content_type, attributes = _text(answer.get("content_type")), _text(answer.get("custom_attributes"))
        if answer.get(framing.STREAM) != framing.STREAM_START:
            self.outstanding -= 1
            self._release(conn)
            return StreamedReply(status, content_type, attributes, body)
        return StreamedReply(status, content_type, attributes, parts=self._parts(conn, timeout))

    async def _parts(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                     timeout: float) -> AsyncIterator[bytes]:
        finished = False
        try:
            while True:
                try:
                    frame = await asyncio.wait_for(framing.read_frame(conn[0]), timeout)
                except asyncio.TimeoutError:
                    raise StreamFailure("ModelInvocationTimeExceeded", (
                        f"The model sent no part of its response for {timeout:g} seconds")) from None
                except (OSError, asyncio.IncompleteReadError, framing.FrameError) as exc:
                    raise StreamFailure("StreamBroken", f"The connection to the model broke: {exc}") from None
                if frame is None:
                    raise StreamFailure("StreamBroken", "The model closed the connection mid-stream")
                header, body = frame
                if header.get(framing.STREAM) == framing.STREAM_PART:
                    yield body
                    continue
                finished = True
                status = header.get("status", 500)
                if isinstance(status, int) and status < 400:
                    return
                raise StreamFailure("StreamBroken", "The model failed mid-stream: "
                                    + body.decode("utf-8", "replace"))
        finally:
            self.outstanding -= 1
            if finished:
                self._release(conn)
            else:
                conn[1].close()

    async def ping(self, timeout: float) -> bool:
        """Send a ping frame."""
        try:
            header, _ = await self._call({"op": "ping"}, b"", timeout)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            return False
        return header.get("status") == 200

    async def execution_parameters(self, timeout: float) -> bytes | None:
        """Ask the toolkit for its batch-transform execution parameters."""
        header, body = await self._call({"op": "execution-parameters"}, b"", timeout)
        return body if header.get("status") == 200 else None

    async def close(self) -> None:
        """Close pooled connections."""
        while self._idle_frames:
            self._idle_frames.pop().close()
        while self._idle:
            _, writer = self._idle.pop()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
