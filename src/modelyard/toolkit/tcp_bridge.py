"""Bridge a unix socket to a TCP port on the container's own loopback, for bring-your-own images.

The container lives in its own network namespace, so the server cannot reach its HTTP port; it
connects to the unix socket in the instance's socket directory instead. Run as a file with ``python
-I tcp_bridge.py SOCKET PORT`` beside the image's serve program (it imports only the standard library).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _serve(socket_path: str, port: int) -> None:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, writer), _pipe(reader, client_writer))

    temporary = f"{socket_path}.{os.getpid()}"
    server = await asyncio.start_unix_server(handle, path=temporary)
    os.replace(temporary, socket_path)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> None:
    """``SOCKET PORT``: accept on SOCKET, forward each connection to 127.0.0.1:PORT."""
    asyncio.run(_serve(argv[0], int(argv[1])))


if __name__ == "__main__":
    main(sys.argv[1:])
