"""Bridge a unix socket to a TCP port on the container's own loopback, for bring-your-own images.

The container lives in its own network namespace, so the server cannot reach its HTTP port; it
connects to the unix socket in the instance's socket directory instead. Run as a file with ``python
-I tcp_bridge.py SOCKET PORT`` beside the image's serve program (it imports only the standard library).

Each accepted connection is paired with a new connection to the port: two protocols, each writing what
it reads straight to the other's transport (read with ``recv_into`` one reused buffer: a plain
protocol's reads would allocate 256 KiB per read). The accepted side reads nothing until its pair is
connected; a side whose peer's write buffer is full stops reading until it drains; an end of stream or
a close on either side closes both (each after writing what it still holds).
"""

from __future__ import annotations

import asyncio
import os
import sys

READ_BYTES = 64 * 1024


class PairedSide(asyncio.BufferedProtocol):
    """One connection of a pair: what it reads (``recv_into`` a buffer of its own) is written to ``peer``'s
    transport; while the peer's write buffer is full this side does not read. An end of stream closes the
    peer (after it writes what it holds), and so does a lost connection."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: PairedSide | None = None
        self._view = memoryview(bytearray(READ_BYTES))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        """This side's buffer (its bytes are copied out in ``buffer_updated``)."""
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        """Write what was read to the peer."""
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.write(self._view[:nbytes].tobytes())

    def eof_received(self) -> bool | None:
        """Close the peer; this side closes too."""
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.close()
        return False

    def pause_writing(self) -> None:
        """The peer stops reading until this side's buffer drains."""
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        """The peer reads again."""
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        """Close the peer."""
        self.transport = None
        peer, self.peer = self.peer, None
        if peer is not None and peer.transport is not None:
            peer.transport.close()


class _Accepted(PairedSide):
    """The server's connection on the unix socket: paused until its connection to the port is made. What it
    reads before then (a Python whose transport starts reading even when paused in ``connection_made``,
    as 3.11.2's does) is held and written to the port first."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self._port = port
        self._pairing: asyncio.Task[None] | None = None
        """Held here: the loop keeps only a weak reference to a task, which could vanish mid-connect."""
        self._early: list[bytes] = []

    def buffer_updated(self, nbytes: int) -> None:
        if self.peer is None:
            self._early.append(self._view[:nbytes].tobytes())
            return
        super().buffer_updated(nbytes)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport.pause_reading()  # type: ignore[union-attr]
        self._pairing = asyncio.get_running_loop().create_task(self._pair())

    async def _pair(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, upstream = await loop.create_connection(PairedSide, "127.0.0.1", self._port)
        except OSError:
            if self.transport is not None:
                self.transport.close()
            return
        if self.transport is None:
            upstream.transport.close()  # type: ignore[union-attr]
            return
        self.peer, upstream.peer = upstream, self
        early, self._early = self._early, []
        for data in early:
            upstream.transport.write(data)  # type: ignore[union-attr]
        self.transport.resume_reading()


async def _serve(socket_path: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    temporary = f"{socket_path}.{os.getpid()}"
    server = await loop.create_unix_server(lambda: _Accepted(port), path=temporary)
    os.replace(temporary, socket_path)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> None:
    """``SOCKET PORT``: accept on SOCKET, forward each connection to 127.0.0.1:PORT."""
    asyncio.run(_serve(argv[0], int(argv[1])))


if __name__ == "__main__":
    main(sys.argv[1:])
