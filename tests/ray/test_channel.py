"""The authenticated channel to a remote instance, abused: no handshake, a wrong secret, a replayed
handshake, a silent client, a host that does not know the secret. A real relay in front of a real
unix-socket server that counts whoever reaches it (the instance's place): none of them may."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from modelyard.hosting import channel
from modelyard.hosting.relay import Relay
from modelyard.toolkit import framing

SECRET = secrets.token_bytes(32)
INVOKE = framing.encode_frame(framing.request_header(framing.OP_INVOKE, "application/json"), b'{"x": [1]}')


class Instance:
    """A unix-socket echo server counting the connections that reach it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reached = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reached += 1
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def relayed(tmp_path: Path) -> AsyncIterator[tuple[Instance, int]]:
    instance = Instance(tmp_path / "m.sock")
    server = await asyncio.start_unix_server(instance.serve, str(instance.path))
    relay = Relay(str(instance.path), SECRET, "127.0.0.1", handshake_timeout=0.5)
    port = relay.start()
    try:
        yield instance, port
    finally:
        relay.close()
        server.close()


async def closed_without_answer(reader: asyncio.StreamReader, within: float = 3.0) -> bool:
    """Whether the other side closed the connection without sending anything beyond the handshake's
    first answer (whatever came before the close is returned in ``reader``)."""
    data = await asyncio.wait_for(reader.read(), within)
    return len(data) <= channel.NONCE_BYTES + channel.PROOF_BYTES


def test_the_secret_holder_reaches_the_instance(tmp_path: Path) -> None:
    async def run() -> None:
        async with relayed(tmp_path) as (instance, port):
            sock = await channel.connect("127.0.0.1", port, SECRET)
            reader, writer = await asyncio.open_connection(sock=sock)
            writer.write(INVOKE)
            assert await reader.readexactly(len(INVOKE)) == INVOKE
            writer.close()
            assert instance.reached == 1

    asyncio.run(run())


def test_a_client_without_the_handshake_is_closed_before_the_instance(tmp_path: Path) -> None:
    async def run() -> None:
        async with relayed(tmp_path) as (instance, port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(INVOKE * 4)
            assert await closed_without_answer(reader)
            assert instance.reached == 0

    asyncio.run(run())


def test_a_wrong_secret_fails_on_both_sides(tmp_path: Path) -> None:
    async def run() -> None:
        async with relayed(tmp_path) as (instance, port):
            with pytest.raises(channel.ChannelRefused, match="did not prove"):
                await channel.connect("127.0.0.1", port, secrets.token_bytes(32))
            wrong = secrets.token_bytes(32)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            client_nonce = secrets.token_bytes(channel.NONCE_BYTES)
            writer.write(channel.MAGIC + client_nonce)
            host_nonce = (await reader.readexactly(channel.NONCE_BYTES + channel.PROOF_BYTES))[:channel.NONCE_BYTES]
            writer.write(channel.proof(wrong, b"client", host_nonce, client_nonce) + INVOKE)
            assert await asyncio.wait_for(reader.read(), 3.0) == b""
            assert instance.reached == 0

    asyncio.run(run())


def test_a_replayed_handshake_is_refused(tmp_path: Path) -> None:
    """A recorder between a real client and the relay keeps the client's bytes; sent again on a new
    connection they prove nothing: the host's nonce is fresh."""

    async def run() -> None:
        async with relayed(tmp_path) as (instance, port):
            recorded = bytearray()

            async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, keep: bool) -> None:
                while data := await source.read(65536):
                    if keep:
                        recorded.extend(data)
                    sink.write(data)
                    await sink.drain()
                sink.close()

            async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))

            recorder = await asyncio.start_server(record, "127.0.0.1", 0)
            recorder_port = recorder.sockets[0].getsockname()[1]
            sock = await channel.connect("127.0.0.1", recorder_port, SECRET)
            reader, writer = await asyncio.open_connection(sock=sock)
            writer.write(INVOKE)
            assert await reader.readexactly(len(INVOKE)) == INVOKE
            writer.close()
            recorder.close()
            assert instance.reached == 1 and len(recorded) > len(INVOKE)

            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(bytes(recorded))
            assert await closed_without_answer(reader)
            assert instance.reached == 1

    asyncio.run(run())


def test_a_silent_client_is_dropped_after_the_handshake_timeout(tmp_path: Path) -> None:
    async def run() -> None:
        async with relayed(tmp_path) as (instance, port):
            reader, _ = await asyncio.open_connection("127.0.0.1", port)
            assert await asyncio.wait_for(reader.read(), 3.0) == b""
            assert instance.reached == 0

    asyncio.run(run())


def test_a_host_without_the_secret_gets_no_proof_from_the_client() -> None:
    """A listener posing as the instance's host: the client refuses it before sending its own proof."""

    async def run() -> None:
        received = bytearray()

        async def impostor(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            received.extend(await reader.readexactly(len(channel.MAGIC) + channel.NONCE_BYTES))
            writer.write(secrets.token_bytes(channel.NONCE_BYTES + channel.PROOF_BYTES))
            received.extend(await reader.read())

        server = await asyncio.start_server(impostor, "127.0.0.1", 0)
        with pytest.raises(channel.ChannelRefused, match="did not prove"):
            await channel.connect("127.0.0.1", server.sockets[0].getsockname()[1], SECRET)
        await asyncio.sleep(0.1)
        server.close()
        assert len(received) == len(channel.MAGIC) + channel.NONCE_BYTES

    asyncio.run(run())
