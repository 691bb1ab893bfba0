"""The frame forwarder that joins a job's network across machines (``controllers.ray.job_tunnel``), with
real namespaces, bridges, TAP devices and TCP (no Ray needed): two job switches, as on two nodes, each
holding one host in a network namespace of its own.

Hosts reach each other only through the forwarders; a client without the job's secret, with a wrong
one, or replaying a recorded legitimate connection gets no frame onto the job's bridge, while the same
frame sent over a correctly authenticated connection does arrive (so the negative checks can fail)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from modelyard.controllers.ray.job_tunnel import (
    HELLO,
    LENGTH,
    TUNNEL_MTU,
    JobTunnel,
    TunnelError,
    frame_keys,
    frame_mac,
)
from modelyard.hosting import channel
from modelyard.runtime.job_network import JobNetwork, JobNetworkError, network_problem

pytestmark = pytest.mark.skipif(network_problem() is not None or not os.path.exists("/dev/net/tun"),
                                reason="job networks need root, iproute2 and /dev/net/tun")
HOSTS = ["algo-1", "algo-2"]


@dataclass
class Side:
    network: JobNetwork
    sandbox: subprocess.Popen[bytes]
    tunnel: JobTunnel
    port: int


def sandbox_namespace() -> subprocess.Popen[bytes]:
    process = subprocess.Popen(["unshare", "--net", "--", "sleep", "infinity"])
    mine = os.readlink("/proc/self/ns/net")
    for _ in range(400):
        if os.readlink(f"/proc/{process.pid}/ns/net") != mine:
            return process
        time.sleep(0.005)
    raise RuntimeError("no namespace")


def side(secret: bytes, index: int) -> Side:
    network = JobNetwork("tunnel-test", HOSTS, TUNNEL_MTU)
    network.open()
    sandbox = sandbox_namespace()
    network.attach(HOSTS[index], sandbox.pid)
    tunnel = JobTunnel(secret, index, len(HOSTS), network.add_tap())
    return Side(network, sandbox, tunnel, tunnel.listen("127.0.0.1"))


@pytest.fixture()
def job() -> Iterator[tuple[bytes, Side, Side]]:
    secret = channel.new_secret()
    first, second = side(secret, 0), side(secret, 1)
    yield secret, first, second
    for each in (first, second):
        each.tunnel.close()
        each.network.close()
        each.sandbox.kill()
        each.sandbox.wait()


def joined(secret: bytes, first: Side, second: Side) -> None:
    peers = {0: ("127.0.0.1", first.port), 1: ("127.0.0.1", second.port)}
    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(each.tunnel.join, peers, 10) for each in (first, second)]:
            done.result()


def in_sandbox(each: Side, code: str) -> str:
    done = subprocess.run(["nsenter", f"--net=/proc/{each.sandbox.pid}/ns/net", "--", "python3", "-c", code],
                          capture_output=True, timeout=30, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def mac_of(each: Side) -> bytes:
    shown = in_sandbox(each, "import socket, fcntl, struct; s = socket.socket(); "
                             "print(fcntl.ioctl(s.fileno(), 0x8927, struct.pack('256s', b'eth0'))[18:24].hex())")
    return bytes.fromhex(shown.strip())


def udp_frame(destination: bytes, address: str, port: int, payload: bytes) -> bytes:
    """An Ethernet frame carrying one UDP datagram from 10.0.1.77 to ``address:port``."""
    source_ip, target_ip = socket.inet_aton("10.0.1.77"), socket.inet_aton(address)
    udp = struct.pack(">HHHH", 40000, port, 8 + len(payload), 0) + payload
    header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, source_ip, target_ip)
    total = sum(struct.unpack(">10H", header))
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    header = header[:10] + struct.pack(">H", ~total & 0xFFFF) + header[12:]
    return destination + bytes.fromhex("02deadbeef01") + b"\x08\x00" + header + udp


class Listener:
    """A UDP socket in algo-1's sandbox network that reports what it received."""

    def __init__(self, each: Side, port: int) -> None:
        code = (f"import socket, json; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                f"s.bind(('0.0.0.0', {port})); s.settimeout(4); got = []\n"
                "try:\n  while True: got.append(s.recv(2048).decode())\nexcept OSError: pass\n"
                "print(json.dumps(got))")
        self.process = subprocess.Popen(["nsenter", f"--net=/proc/{each.sandbox.pid}/ns/net", "--", "python3", "-c",
                                         code], stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)

    def received(self) -> list[str]:
        out, _ = self.process.communicate(timeout=30)
        return json.loads(out)  # type: ignore[no-any-return]


async def send_frames(port: int, secret: bytes, frames: list[bytes]) -> bytes:
    """Connect as algo-2 would (the handshake under ``secret``, the hello, MAC'd frames); every byte sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client_nonce, nonce = secrets.token_bytes(channel.NONCE_BYTES), secrets.token_bytes(16)
    sent = [channel.MAGIC + client_nonce]
    writer.write(sent[-1])
    answer = await reader.readexactly(channel.NONCE_BYTES + channel.PROOF_BYTES)
    host_nonce = answer[:channel.NONCE_BYTES]
    if answer[channel.NONCE_BYTES:] != channel.proof(secret, b"host", client_nonce, host_nonce):
        writer.close()
        raise channel.ChannelRefused("the forwarder did not prove the secret")
    sent.append(channel.proof(secret, b"client", host_nonce, client_nonce) + HELLO.pack(1, nonce))
    writer.write(sent[-1])
    assert await reader.readexactly(1) == channel.ACCEPTED
    _, theirs = HELLO.unpack(await reader.readexactly(HELLO.size))
    send, _ = frame_keys(secret, nonce, theirs)
    for sequence, frame in enumerate(frames):
        sent.append(LENGTH.pack(len(frame)) + frame + frame_mac(send, sequence, frame))
        writer.write(sent[-1])
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.close()
    return b"".join(sent)


async def raw_session(port: int, chunks: list[bytes]) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for chunk in chunks:
        writer.write(chunk)
    await writer.drain()
    try:
        answer = await asyncio.wait_for(reader.read(4096), 3)
    except (asyncio.TimeoutError, ConnectionError):
        answer = b""
    writer.close()
    return answer


def test_hosts_on_two_switches_reach_each_other_only_through_the_forwarders(job) -> None:  # type: ignore[no-untyped-def]
    secret, first, second = job
    with pytest.raises(JobNetworkError, match=r"algo-1 cannot reach algo-2 \(10\.0\.1\.3\) over TCP"):
        first.network.reach("algo-1", "10.0.1.3", 9, timeout=1)
    joined(secret, first, second)
    listener = first.network.probe_listener("algo-1")
    try:
        second.network.reach("algo-2", "10.0.1.2", listener.getsockname()[1])
    finally:
        listener.close()
    answer = in_sandbox(second, "import socket\ntry:\n  socket.create_connection(('10.0.1.2', 9), timeout=3)\n"
                        "except OSError as e: print(type(e).__name__)")
    assert answer.strip() == "ConnectionRefusedError"
    assert first.tunnel.forwarded > 0 and second.tunnel.forwarded > 0


def test_a_peer_that_never_comes_is_named_by_join(job) -> None:  # type: ignore[no-untyped-def]
    _, _, second = job
    with pytest.raises(TunnelError, match=r"algo-1 at 127\.0\.0\.1:1: ConnectionRefusedError"):
        second.tunnel.join({0: ("127.0.0.1", 1)}, 2)


def test_frames_without_the_secret_or_replayed_never_reach_the_hosts(job) -> None:  # type: ignore[no-untyped-def]
    secret, first, second = job
    joined(secret, first, second)
    target = mac_of(first)

    def frame(text: str) -> bytes:
        return udp_frame(target, "10.0.1.2", 5005, text.encode())

    listener = Listener(first, 5005)
    refused_before = first.tunnel.refused
    wrong = channel.new_secret()
    with pytest.raises(channel.ChannelRefused):
        asyncio.run(send_frames(first.port, wrong, [frame("wrong secret")]))
    unauthenticated = asyncio.run(raw_session(first.port, [LENGTH.pack(len(frame("no handshake")))
                                                           + frame("no handshake") + b"\0" * 16]))
    assert unauthenticated == b""
    recorded = asyncio.run(send_frames(first.port, secret, [frame("legitimate")]))
    replayed = asyncio.run(raw_session(first.port, [recorded.replace(b"legitimate", b"replayed!!")]))
    assert len(replayed) == channel.NONCE_BYTES + channel.PROOF_BYTES, "the replayed proof was accepted"
    assert listener.received() == ["legitimate"]
    assert first.tunnel.refused >= refused_before + 3


def test_a_frame_injected_into_an_authenticated_stream_closes_it_unseen(job) -> None:  # type: ignore[no-untyped-def]
    secret, first, second = job
    joined(secret, first, second)
    target = mac_of(first)
    listener = Listener(first, 5006)

    async def inject() -> None:
        sock = await channel.connect("127.0.0.1", first.port, secret)
        reader, writer = await asyncio.open_connection(sock=sock)
        nonce = secrets.token_bytes(16)
        writer.write(HELLO.pack(1, nonce))
        _, theirs = HELLO.unpack(await reader.readexactly(HELLO.size))
        send, _ = frame_keys(secret, nonce, theirs)
        good = udp_frame(target, "10.0.1.2", 5006, b"first")
        forged = udp_frame(target, "10.0.1.2", 5006, b"forged")
        after = udp_frame(target, "10.0.1.2", 5006, b"after")
        writer.write(LENGTH.pack(len(good)) + good + frame_mac(send, 0, good))
        writer.write(LENGTH.pack(len(forged)) + forged + b"\0" * 16)
        writer.write(LENGTH.pack(len(after)) + after + frame_mac(send, 2, after))
        writer.write(LENGTH.pack(len(good)) + good + frame_mac(send, 0, good))
        try:
            await writer.drain()
            await asyncio.sleep(0.3)
        except ConnectionError:
            pass  # the forwarder closed on the forged frame, with our later frames unread: a reset
        writer.close()

    asyncio.run(inject())
    assert listener.received() == ["first"]
