"""One job network across machines: each machine's share of the job (its job switch, ``job_network``)
gets a TAP device on its bridge, and a frame forwarder relays the Ethernet frames of that TAP to the
forwarders of the job's other hosts over TCP, as one switch spanning the machines.

::

    host K's machine                                              host J's machine
      sandbox eth0 ══ veth ══ br0 ── tap0 ◄─► forwarder K ═══ TCP ═══ forwarder J ◄─► tap0 ── br0 ══ ... eth0
                                                 │  mutual HMAC handshake (``hosting.channel``, per-job secret)
                                                 │  hello: index (2) + nonce (16) each way
                                                 └─ frames: length (2) | Ethernet frame | MAC (16)

The network between machines is hostile: anyone may connect to a forwarder or send it packets. So

- a connection is used only after the mutual HMAC challenge–response of ``hosting.channel`` under the
  job's secret (32 random bytes the server made for this job and gave only its hosts' actors): a peer
  without the secret, or replaying a recorded handshake, is closed before any frame is read;
- every frame carries a MAC: HMAC-SHA256 (truncated to 16 bytes) over a per-direction sequence number and
  the frame, under a per-connection key derived from the secret and both sides' fresh hello nonces. A
  frame injected into an established TCP stream, replayed, reordered or altered fails its MAC, and the
  connection is closed without the frame reaching the bridge;
- what is not protected: confidentiality (frames travel in the clear: anyone on the path reads the job's
  traffic), and availability (anyone on the path can reset the connection; the job's hosts then lose
  each other and the job fails, as it would on a broken network).

Forwarding: host K dials every host with a lower index and accepts the rest (one connection per pair).
A frame read from the TAP goes to the peer that last sent frames from its destination MAC, else to every
peer (broadcast, ARP, unknown unicast); a frame from a peer goes only to the TAP (a full mesh needs no
re-forwarding, so there are no loops). A frame that cannot be queued (TAP or connection full) is dropped,
as a switch drops it; the hosts' TCP retransmits.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import struct
import threading
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from modelyard.hosting import channel

log = logging.getLogger("modelyard.controllers.ray.job_tunnel")

NONCE_BYTES = 16
MAC_BYTES = 16
MAX_FRAME = 65535
HELLO = struct.Struct(">H16s")
LENGTH = struct.Struct(">H")
SEQUENCE = struct.Struct(">Q")
QUEUE_LIMIT_BYTES = 4 << 20
MAX_LEARNED = 4096
"""MACs remembered (the hosts' code chooses the source MACs it sends: past this the table starts over)."""
JOIN_TIMEOUT = 20.0
TUNNEL_MTU = 65000
"""The MTU of a job network that crosses nodes: frames travel inside TCP, so no wire limits them, and
large ones cut the forwarders' per-frame work (a 1500-byte MTU relays 40 times as many frames)."""
T = TypeVar("T")


class TunnelError(Exception):
    """The tunnel could not be made, or a peer could not be reached; the message names the host."""


def frame_keys(secret: bytes, dialer: bytes, acceptor: bytes) -> tuple[bytes, bytes]:
    """The keys of one connection's frames, (dialer → acceptor, acceptor → dialer), from both hellos."""
    return (channel.proof(secret, b"frames dialer", dialer, acceptor),
            channel.proof(secret, b"frames acceptor", dialer, acceptor))


def frame_mac(key: bytes, sequence: int, frame: bytes) -> bytes:
    """The MAC of the ``sequence``-th frame sent under ``key``."""
    return hmac.new(key, SEQUENCE.pack(sequence) + frame, hashlib.sha256).digest()[:MAC_BYTES]


class _Link:
    """An authenticated connection to one peer forwarder."""

    def __init__(self, peer: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, send_key: bytes,
                 receive_key: bytes) -> None:
        self.peer = peer
        self.reader = reader
        self.writer = writer
        self._send_key, self._receive_key = send_key, receive_key
        self._sent = 0
        self._received = 0

    def send(self, frame: bytes) -> None:
        if self.writer.is_closing() or self.writer.transport.get_write_buffer_size() > QUEUE_LIMIT_BYTES:
            return
        self.writer.write(LENGTH.pack(len(frame)) + frame + frame_mac(self._send_key, self._sent, frame))
        self._sent += 1

    async def receive(self) -> bytes:
        """The next frame; ConnectionError when its MAC is wrong (the stream is no longer trusted)."""
        (size,) = LENGTH.unpack(await self.reader.readexactly(LENGTH.size))
        frame = await self.reader.readexactly(size)
        mac = await self.reader.readexactly(MAC_BYTES)
        if not hmac.compare_digest(mac, frame_mac(self._receive_key, self._received, frame)):
            raise ConnectionError(f"a frame from algo-{self.peer + 1} failed its MAC")
        self._received += 1
        return frame

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class JobTunnel:
    """The frame forwarder of one host of a job (``index`` of ``count``): relays its TAP ``tap_fd`` to the
    other hosts' forwarders. ``listen`` starts it, ``join`` connects it to the others, ``close`` ends it."""

    def __init__(self, secret: bytes, index: int, count: int, tap_fd: int) -> None:
        self.secret = secret
        self.index = index
        self.count = count
        self.tap_fd = tap_fd
        self.refused = 0
        """Connections closed because they did not prove the secret or sent a frame failing its MAC."""
        self.forwarded = 0
        """Frames from peers written to the TAP."""
        self._links: dict[int, _Link] = {}
        self._where: dict[bytes, int] = {}
        self._all_joined: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"job-tunnel-{index}", daemon=True)
        self._server: asyncio.Server | None = None

    def listen(self, host: str) -> int:
        """Start forwarding and accepting peers on ``host``; the port."""
        self._thread.start()
        return self._call(self._listen(host))

    def join(self, peers: Mapping[int, tuple[str, int]], timeout: float = JOIN_TIMEOUT) -> None:
        """Connect to the peers of lower index (``peers``: index → forwarder address) and wait until every
        other host is connected; TunnelError naming the hosts that are not."""
        self._call(self._join(dict(peers), timeout), timeout + 5.0)

    def close(self) -> None:
        """Close every connection and stop forwarding (the TAP's descriptor is closed too)."""
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                self._call(self._close(), 10.0)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10.0)
        with contextlib.suppress(OSError):
            os.close(self.tap_fd)

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _listen(self, host: str) -> int:
        self._all_joined = asyncio.Event()
        self._loop.add_reader(self.tap_fd, self._from_tap)
        self._server = await asyncio.start_server(self._accepted, host, 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _join(self, peers: dict[int, tuple[str, int]], timeout: float) -> None:
        assert self._all_joined is not None
        failures: dict[int, str] = {}

        async def dial(peer: int, host: str, port: int) -> None:
            try:
                sock = await channel.connect(host, port, self.secret)
                reader, writer = await asyncio.open_connection(sock=sock)
                nonce = secrets.token_bytes(NONCE_BYTES)
                writer.write(HELLO.pack(self.index, nonce))
                answer, theirs = HELLO.unpack(await asyncio.wait_for(reader.readexactly(HELLO.size), timeout))
                if answer != peer:
                    raise ConnectionError(f"it answered as algo-{answer + 1}")
                send, receive = frame_keys(self.secret, nonce, theirs)
                self._add(_Link(peer, reader, writer, send, receive))
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
                failures[peer] = f"{type(exc).__name__}: {exc}"

        await asyncio.gather(*(dial(peer, host, port) for peer, (host, port) in peers.items() if peer < self.index))
        if len(self._links) < self.count - 1:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._all_joined.wait(), timeout)
        missing = [peer for peer in range(self.count) if peer != self.index and peer not in self._links]
        if missing:
            reasons = "; ".join(f"algo-{peer + 1} at {':'.join(map(str, peers.get(peer, ('?', '?'))))}: "
                                f"{failures.get(peer, f'no connection within {timeout:g} seconds')}"
                                for peer in missing)
            raise TunnelError(f"algo-{self.index + 1}'s frame forwarder is not connected to {reasons}")

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not await channel.accept(reader, writer, self.secret):
            self.refused += 1
            writer.close()
            return
        try:
            peer, theirs = HELLO.unpack(await asyncio.wait_for(reader.readexactly(HELLO.size),
                                                              channel.HANDSHAKE_TIMEOUT_SECONDS))
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            writer.close()
            return
        if not self.index < peer < self.count:
            self.refused += 1
            writer.close()
            return
        nonce = secrets.token_bytes(NONCE_BYTES)
        writer.write(HELLO.pack(self.index, nonce))
        receive, send = frame_keys(self.secret, theirs, nonce)
        self._add(_Link(peer, reader, writer, send, receive))

    def _add(self, link: _Link) -> None:
        old = self._links.get(link.peer)
        if old is not None:
            old.close()
        self._links[link.peer] = link
        self._loop.create_task(self._from_peer(link))
        if len(self._links) >= self.count - 1 and self._all_joined is not None:
            self._all_joined.set()

    async def _from_peer(self, link: _Link) -> None:
        try:
            while True:
                frame = await link.receive()
                if len(frame) >= 14:
                    if len(self._where) >= MAX_LEARNED:
                        self._where.clear()
                    self._where[frame[6:12]] = link.peer
                with contextlib.suppress(BlockingIOError, OSError):
                    os.write(self.tap_fd, frame)
                    self.forwarded += 1
        except ConnectionError as exc:
            self.refused += 1
            log.warning("closing the tunnel to algo-%d: %s", link.peer + 1, exc)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            link.close()
            if self._links.get(link.peer) is link:
                del self._links[link.peer]

    def _from_tap(self) -> None:
        for _ in range(64):
            try:
                frame = os.read(self.tap_fd, MAX_FRAME)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._loop.remove_reader(self.tap_fd)
                return
            if len(frame) < 14:
                continue
            destination = frame[:6]
            peer = None if destination[0] & 1 else self._where.get(destination)
            link = self._links.get(peer) if peer is not None else None
            for target in [link] if link is not None else list(self._links.values()):
                target.send(frame)

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self.tap_fd)
        if self._server is not None:
            self._server.close()
        for link in list(self._links.values()):
            link.close()
        self._links.clear()
