"""The authenticated channel to an instance on another machine: a mutual HMAC challenge–response
before any frame, keyed by a per-instance secret the server made and gave the instance's host.

::

    client                                             instance host (relay)
      MAGIC + client nonce (32)              ─────►
                                             ◄─────    host nonce (32) + HMAC(secret, "host" | cn | hn)
      checks the host's proof; HMAC(secret, "client" | hn | cn) ─────►
                                             ◄─────    ACCEPTED (1 byte), then bytes both ways

Fresh nonces on both sides bind every proof to one connection, so a recorded handshake replayed
later fails (the host's nonce differs); the labels keep one side's proof from being reflected as
the other's. A connection whose proof is wrong is closed before the relay touches the instance. The
channel is authenticated, not encrypted: frames travel in the clear after the handshake.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import socket

MAGIC = b"MYRD\x01\x00\x00\x00"
NONCE_BYTES = 32
PROOF_BYTES = hashlib.sha256().digest_size
ACCEPTED = b"\x01"
SECRET_BYTES = 32
HANDSHAKE_TIMEOUT_SECONDS = 5.0


class ChannelRefused(ConnectionError):
    """The other side did not prove it holds the instance's secret (or broke off the handshake)."""


def new_secret() -> bytes:
    """A fresh per-instance channel secret."""
    return secrets.token_bytes(SECRET_BYTES)


def proof(secret: bytes, label: bytes, first: bytes, second: bytes) -> bytes:
    """HMAC-SHA256 of ``label | first | second`` under ``secret``."""
    return hmac.new(secret, label + first + second, hashlib.sha256).digest()


async def _recv_exactly(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = await loop.sock_recv(sock, size - len(data))
        if not chunk:
            raise ChannelRefused("the instance's host closed the connection during the handshake")
        data += chunk
    return data


async def connect(host: str, port: int, secret: bytes, timeout: float = HANDSHAKE_TIMEOUT_SECONDS) -> socket.socket:
    """A connected, non-blocking socket to the instance at ``host:port`` that has passed the handshake;
    raises ChannelRefused (also when the host does not finish the handshake within ``timeout``) or
    OSError."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(_client_handshake(loop, sock, host, port, secret), timeout)
    except asyncio.TimeoutError:
        sock.close()
        raise ChannelRefused(f"the instance's host at {host}:{port} did not finish the handshake within "
                             f"{timeout:g} seconds") from None
    except BaseException:
        sock.close()
        raise
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


async def _client_handshake(loop: asyncio.AbstractEventLoop, sock: socket.socket, host: str, port: int,
                            secret: bytes) -> None:
    await loop.sock_connect(sock, (host, port))
    client_nonce = secrets.token_bytes(NONCE_BYTES)
    await loop.sock_sendall(sock, MAGIC + client_nonce)
    answer = await _recv_exactly(loop, sock, NONCE_BYTES + PROOF_BYTES)
    host_nonce, host_proof = answer[:NONCE_BYTES], answer[NONCE_BYTES:]
    if not hmac.compare_digest(host_proof, proof(secret, b"host", client_nonce, host_nonce)):
        raise ChannelRefused("the instance's host did not prove it holds the instance's secret")
    await loop.sock_sendall(sock, proof(secret, b"client", host_nonce, client_nonce))
    if await _recv_exactly(loop, sock, 1) != ACCEPTED:
        raise ChannelRefused("the instance's host refused the connection")


async def accept_socket(sock: socket.socket, secret: bytes, timeout: float = HANDSHAKE_TIMEOUT_SECONDS) -> bool:
    """``accept`` on a non-blocking socket of the running loop: it reads exactly the handshake's bytes,
    so whatever the client sends after it is still in the socket for the relay to read."""
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(_host_socket_handshake(loop, sock, secret), timeout)
    except (asyncio.TimeoutError, ChannelRefused, OSError):
        return False


async def _host_socket_handshake(loop: asyncio.AbstractEventLoop, sock: socket.socket, secret: bytes) -> bool:
    opening = await _recv_exactly(loop, sock, len(MAGIC) + NONCE_BYTES)
    if opening[:len(MAGIC)] != MAGIC:
        return False
    client_nonce = opening[len(MAGIC):]
    host_nonce = secrets.token_bytes(NONCE_BYTES)
    await loop.sock_sendall(sock, host_nonce + proof(secret, b"host", client_nonce, host_nonce))
    client_proof = await _recv_exactly(loop, sock, PROOF_BYTES)
    if not hmac.compare_digest(client_proof, proof(secret, b"client", host_nonce, client_nonce)):
        return False
    await loop.sock_sendall(sock, ACCEPTED)
    return True


async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, secret: bytes,
                 timeout: float = HANDSHAKE_TIMEOUT_SECONDS) -> bool:
    """The host's side of the handshake on a fresh connection: whether the client proved it holds
    ``secret`` (within ``timeout``). The caller closes a connection that did not."""
    try:
        return await asyncio.wait_for(_host_handshake(reader, writer, secret), timeout)
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, OSError):
        return False


async def _host_handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, secret: bytes) -> bool:
    opening = await reader.readexactly(len(MAGIC) + NONCE_BYTES)
    if opening[:len(MAGIC)] != MAGIC:
        return False
    client_nonce = opening[len(MAGIC):]
    host_nonce = secrets.token_bytes(NONCE_BYTES)
    writer.write(host_nonce + proof(secret, b"host", client_nonce, host_nonce))
    await writer.drain()
    client_proof = await reader.readexactly(PROOF_BYTES)
    if not hmac.compare_digest(client_proof, proof(secret, b"client", host_nonce, client_nonce)):
        return False
    writer.write(ACCEPTED)
    await writer.drain()
    return True
