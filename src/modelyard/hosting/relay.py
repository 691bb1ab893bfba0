"""The TCP side of an instance on a cluster node: a listener on the node's address that lets in only
connections passing the channel's handshake (``hosting.channel``) and relays each to the instance's
unix socket, byte for byte. A connection that fails the handshake is closed before the instance's
socket is opened.

It runs its own event loop in a thread, so the process hosting it (a Ray actor) needs none.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from modelyard.hosting import channel

CHUNK_BYTES = 256 * 1024


class Relay:
    """Authenticated TCP → unix-socket relay for one instance."""

    def __init__(self, socket_path: str, secret: bytes, host: str,
                 handshake_timeout: float = channel.HANDSHAKE_TIMEOUT_SECONDS) -> None:
        self.socket_path = socket_path
        self.host = host
        self.handshake_timeout = handshake_timeout
        self._secret = secret
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self.refused = 0
        """Connections closed because they failed the handshake."""

    def start(self) -> int:
        """Listen on a free port of ``host``; returns the port."""
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name="relay", daemon=True)
        self._thread.start()
        started.wait(10.0)
        if self._server is None:
            raise OSError(f"the relay could not listen on {self.host}")
        return int(self._server.sockets[0].getsockname()[1])

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._serve, self.host, 0, limit=CHUNK_BYTES))
        finally:
            started.set()
        self._loop.run_forever()

    def close(self) -> None:
        """Stop listening and drop every relayed connection."""
        if self._thread is None:
            return

        async def shut() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(5.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if not await channel.accept(reader, writer, self._secret, self.handshake_timeout):
                self.refused += 1
                return
            try:
                up_reader, up_writer = await asyncio.open_unix_connection(self.socket_path, limit=CHUNK_BYTES)
            except OSError:
                return
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                up_writer.close()
        finally:
            writer.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until end of file, then half-close ``sink``."""
    try:
        while True:
            data = await source.read(CHUNK_BYTES)
            if not data:
                break
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except (OSError, asyncio.IncompleteReadError):
        with contextlib.suppress(Exception):
            sink.close()
