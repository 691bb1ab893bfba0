"""The TCP side of an instance on a cluster node: a listener on the node's address that lets in only
connections passing the channel's handshake (``hosting.channel``) and relays each to the instance's
unix socket, byte for byte. A connection that fails the handshake is closed before the instance's
socket is opened.

::

    accept ─► handshake on the raw socket (exactly its bytes read) ─► open the instance's unix socket
           ─► the client's socket wrapped with its pair already set (nothing it sent is read unpaired)
           ─► two paired protocols: what each reads is written straight to the other side;
              a side whose write buffer fills pauses the other's reading; an end of file is passed
              on as a half-close, a lost connection closes its pair

No task, future or stream per message: a relayed message costs one read and one write. It runs its
own event loop (uvloop's when the node has it) in a thread, so the process hosting it (a Ray actor)
needs none.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

from modelyard.hosting import channel
from modelyard.toolkit.tcp_bridge import PairedSide

BACKLOG = 128


class _Side(PairedSide):
    """One end of a relayed connection (``tcp_bridge.PairedSide``), passing an end of file on as a
    half-close; ``ended`` is set when the connection is lost."""

    def __init__(self) -> None:
        super().__init__()
        self.ended = asyncio.get_running_loop().create_future()

    def eof_received(self) -> bool:
        peer = self.peer
        if peer is not None and peer.transport is not None and peer.transport.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                peer.transport.write_eof()
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self.ended.done():
            self.ended.set_result(None)


class Relay:
    """Authenticated TCP → unix-socket relay for one instance."""

    def __init__(self, socket_path: str, secret: bytes, host: str,
                 handshake_timeout: float = channel.HANDSHAKE_TIMEOUT_SECONDS) -> None:
        self.socket_path = socket_path
        self.host = host
        self.handshake_timeout = handshake_timeout
        self._secret = secret
        self._loop = _new_loop()
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.refused = 0
        """Connections closed because they failed the handshake."""

    def start(self) -> int:
        """Listen on a free port of ``host``; returns the port."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.bind((self.host, 0))
            listener.listen(BACKLOG)
        except OSError as exc:
            listener.close()
            raise OSError(f"the relay could not listen on {self.host}: {exc}") from None
        listener.setblocking(False)
        self._listener = listener
        self._thread = threading.Thread(target=self._run, name="relay", daemon=True)
        self._thread.start()
        return int(listener.getsockname()[1])

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.create_task(self._accept_forever())
        self._loop.run_forever()

    async def _accept_forever(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._listener is not None
        while True:
            try:
                sock, _ = await loop.sock_accept(self._listener)
            except OSError:
                if self._listener.fileno() < 0:
                    return
                await asyncio.sleep(0.05)
                continue
            task = loop.create_task(self._serve(sock))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """Stop listening and drop every relayed connection."""
        if self._thread is None:
            return

        async def shut() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._listener is not None:
                self._listener.close()

        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(shut(), self._loop).result(5.0)
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)

    async def _serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        sock.setblocking(False)
        if not await channel.accept_socket(sock, self._secret, self.handshake_timeout):
            self.refused += 1
            _close_refused(sock)
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            inside, instance = await loop.create_unix_connection(_Side, self.socket_path)
        except OSError:
            _close_refused(sock)
            return

        def paired() -> _Side:
            client = _Side()
            client.peer, instance.peer = instance, client
            return client

        try:
            outside, client = await loop.connect_accepted_socket(paired, sock)
        except OSError:
            inside.close()
            sock.close()
            return
        try:
            await asyncio.gather(client.ended, instance.ended)
        finally:
            outside.close()
            inside.close()


def _close_refused(sock: socket.socket) -> None:
    """Close a refused connection with a FIN rather than a reset: what the client sent after its
    failed proof is read (up to a bound) and dropped first."""
    with contextlib.suppress(OSError):
        for _ in range(16):
            if not sock.recv(65536):
                break
    sock.close()


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it is installed (it is with the server's dependencies), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
