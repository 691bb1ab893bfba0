"""A toolkit instance on another machine, reached over TCP through the authenticated channel
(``hosting.channel``) to the relay beside it, which passes the bytes on to the instance's unix socket.

Everything above the connection (frames, pooling, pipelining, timeouts, error mapping) is
``FramedInstance``'s: only how a connection is opened differs.
"""

from __future__ import annotations

import asyncio

from modelyard.hosting import channel
from modelyard.hosting.frame_client import FrameConnection
from modelyard.hosting.instances import FramedInstance


class RemoteFramedInstance(FramedInstance):
    """A toolkit instance behind a relay at ``host:port`` that shares ``secret`` with this server."""

    def __init__(self, host: str, port: int, secret: bytes, max_idle: int = 32) -> None:
        super().__init__(f"{host}:{port}", max_idle)
        self.host = host
        self.port = port
        self._secret = secret

    async def _open_streams(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        sock = await channel.connect(self.host, self.port, self._secret)
        return await asyncio.open_connection(sock=sock, limit=2**26)

    async def open_frames(self) -> FrameConnection:
        """A new connection for whole-frame calls, through the channel's handshake."""
        return await FrameConnection.over(await channel.connect(self.host, self.port, self._secret))
