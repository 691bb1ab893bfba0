"""A bring-your-own-container instance: the SageMaker container contract over HTTP, on a loopback port
or (a sandboxed container in its own network namespace) through the unix socket of its bridge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp

from modelyard.hosting.instances import Ending, Invocation, Reply, StreamedReply, StreamFailure


class HttpInstance:
    """An instance serving ``GET /ping`` and ``POST /invocations`` on ``127.0.0.1:port``, or on the
    unix socket ``unix_socket`` that leads there."""

    def __init__(self, port: int, unix_socket: str | None = None) -> None:
        self.base = "http://localhost" if unix_socket else f"http://127.0.0.1:{port}"
        self.unix_socket = unix_socket
        self.outstanding = 0
        self.timeouts = 0
        self.ended: Callable[[], Ending | None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector: aiohttp.BaseConnector = (
                aiohttp.UnixConnector(path=self.unix_socket, limit=64) if self.unix_socket
                else aiohttp.TCPConnector(limit=64, force_close=False))
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def invoke(self, invocation: Invocation, timeout: float, path: str = "/invocations") -> Reply:
        """POST /invocations (or ``path``: a multi-model container's ``/models/{name}/invoke``) with
        SageMaker's headers."""
        headers = _headers(invocation)
        self.outstanding += 1
        try:
            async with self._client().post(f"{self.base}{path}", data=invocation.body, headers=headers,
                                           timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                body = await response.read()
                return Reply(response.status, body, response.headers.get("Content-Type"),
                             response.headers.get("X-Amzn-SageMaker-Custom-Attributes"))
        except aiohttp.ClientConnectionError as exc:
            raise OSError(str(exc)) from exc
        finally:
            self.outstanding -= 1

    async def request(self, method: str, path: str, document: object | None, timeout: float) -> Reply:
        """Any other call of the container contract (``POST /models`` with a JSON ``document``,
        ``DELETE /models/{name}`` …); raises OSError when the container cannot be reached."""
        try:
            async with self._client().request(method, f"{self.base}{path}", json=document,
                                              timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                return Reply(response.status, await response.read(), response.headers.get("Content-Type"))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise OSError(f"{method} {path}: {exc or type(exc).__name__}") from exc

    async def invoke_file(self, invocation: Invocation, body_path: str, reply_path: str,
                          timeout: float) -> Reply:
        """POST /invocations with the file ``body_path`` as the body, the answer written to ``reply_path``."""
        self.outstanding += 1
        try:
            with open(body_path, "rb") as body:
                async with self._client().post(f"{self.base}/invocations", data=body,
                                               headers=_headers(invocation),
                                               timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                    with open(reply_path, "wb") as sink:
                        async for chunk in response.content.iter_chunked(1 << 20):
                            await asyncio.to_thread(sink.write, chunk)
                    return Reply(response.status, b"", response.headers.get("Content-Type"),
                                 response.headers.get("X-Amzn-SageMaker-Custom-Attributes"))
        except aiohttp.ClientConnectionError as exc:
            raise OSError(str(exc)) from exc
        finally:
            self.outstanding -= 1

    async def invoke_stream(self, invocation: Invocation, timeout: float) -> StreamedReply:
        """POST /invocations and read the answer as it arrives (chunked HTTP: each chunk a part)."""
        self.outstanding += 1
        try:
            response = await self._client().post(
                f"{self.base}/invocations", data=invocation.body, headers=_headers(invocation),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout))
        except aiohttp.ClientConnectionError as exc:
            self.outstanding -= 1
            raise OSError(str(exc)) from exc
        except BaseException:
            self.outstanding -= 1
            raise
        content_type = response.headers.get("Content-Type")
        attributes = response.headers.get("X-Amzn-SageMaker-Custom-Attributes")
        if response.status >= 400:
            try:
                body = await response.read()
            finally:
                response.release()
                self.outstanding -= 1
            return StreamedReply(response.status, content_type, attributes, body)
        return StreamedReply(response.status, content_type, attributes, parts=self._parts(response))

    async def _parts(self, response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.content.iter_any():
                if chunk:
                    yield chunk
        except asyncio.TimeoutError:
            raise StreamFailure("ModelInvocationTimeExceeded", "The container sent no part of its response "
                                "within the invocation timeout") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise StreamFailure("StreamBroken", f"The connection to the container broke: {exc}") from None
        finally:
            response.close()
            self.outstanding -= 1

    async def ping(self, timeout: float) -> bool:
        """GET /ping answers 200."""
        try:
            async with self._client().get(f"{self.base}/ping",
                                          timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                await response.read()
                return response.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return False

    async def execution_parameters(self, timeout: float) -> bytes | None:
        """GET /execution-parameters, or None when the container has no such route."""
        try:
            async with self._client().get(f"{self.base}/execution-parameters",
                                          timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                return await response.read() if response.status == 200 else None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return None

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()


def _headers(invocation: Invocation) -> dict[str, str]:
    """SageMaker's request headers for an invocation."""
    headers = {"Content-Type": invocation.content_type or "application/octet-stream"}
    if invocation.accept:
        headers["Accept"] = invocation.accept
    if invocation.custom_attributes:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = invocation.custom_attributes
    if invocation.inference_id:
        headers["X-Amzn-SageMaker-Inference-Id"] = invocation.inference_id
    if invocation.target_model:
        headers["X-Amzn-SageMaker-Target-Model"] = invocation.target_model
    return headers
