"""Start the toolkit as a real subprocess on a unix socket and talk frames to it."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.toolkit import framing

SRC = str(Path(__file__).resolve().parents[2] / "src")


def write_model(root: Path, files: dict[str, str]) -> Path:
    """A model dir holding ``code/<name>`` for each entry of ``files`` (dedented)."""
    model_dir = root / "model"
    for name, text in files.items():
        path = model_dir / "code" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    model_dir.mkdir(parents=True, exist_ok=True)
    return model_dir


@dataclass
class Toolkit:
    """A running ``python -m modelyard.toolkit serve``."""

    process: subprocess.Popen[bytes]
    socket_path: str
    sock_dir: str
    out_path: Path
    err_path: Path
    clients: list[Client] = field(default_factory=list)

    def stdout(self) -> str:
        """What the server printed to stdout."""
        return self.out_path.read_text(errors="replace")

    def stderr(self) -> str:
        """What the server printed to stderr."""
        return self.err_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> Toolkit:
        """Wait until the socket accepts connections; fail if the process exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"toolkit exited with {self.process.returncode}:\n{self.stderr()}")
            if os.path.exists(self.socket_path):
                try:
                    with socket.socket(socket.AF_UNIX) as sock:
                        sock.connect(self.socket_path)
                    return self
                except OSError:
                    pass
            time.sleep(0.01)
        raise AssertionError(f"toolkit not ready after {timeout}s:\n{self.stderr()}")

    def wait_exit(self, timeout: float = 30.0) -> int:
        """Wait for the process to end; its exit code."""
        return self.process.wait(timeout)

    def client(self) -> Client:
        """A new connection to the socket."""
        client = Client(self.socket_path)
        self.clients.append(client)
        return client

    def terminate(self) -> int:
        """SIGTERM and wait; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait_exit()

    def close(self) -> None:
        """Stop everything this toolkit owns."""
        for client in self.clients:
            client.close()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.sock_dir, ignore_errors=True)


def start(model_dir: Path, env: dict[str, str] | None = None, ready: bool = True,
          python: str = sys.executable) -> Toolkit:
    """Start the toolkit for ``model_dir`` (with ``python``) on a socket in a short temporary directory, as
    a container of one vCPU (one worker) unless ``env`` says otherwise."""
    sock_dir = tempfile.mkdtemp(prefix="tk", dir="/tmp")
    socket_path = os.path.join(sock_dir, "s.sock")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "MODELYARD_"))}
    full_env.update({"PYTHONPATH": SRC, "SAGEMAKER_MODEL_DIR": str(model_dir),
                     "MODELYARD_SOCKET": socket_path, "MODELYARD_VCPUS": "1", **(env or {})})
    out_path, err_path = model_dir.parent / "stdout.log", model_dir.parent / "stderr.log"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        process = subprocess.Popen([python, "-m", "modelyard.toolkit", "serve"], env=full_env,
                                   stdout=out, stderr=err, cwd=str(model_dir.parent))
    toolkit = Toolkit(process, socket_path, sock_dir, out_path, err_path)
    return toolkit.wait_ready() if ready else toolkit


class Client:
    """A blocking frame client on one connection."""

    def __init__(self, path: str, timeout: float = 30.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are."""
        self.sock.sendall(data)

    def read_frame(self) -> tuple[dict[str, Any], bytes] | None:
        """One response frame; None when the server closed the connection."""
        prefix = self._read(framing.PREFIX_SIZE)
        if prefix is None:
            return None
        header_len, body_len = framing.PREFIX.unpack(prefix)
        rest = self._read(header_len + body_len)
        assert rest is not None, "connection closed inside a frame"
        return framing.decode_header(rest[:header_len]), rest[header_len:]

    def request(self, op: str = "invoke", body: bytes = b"", **fields: Any) -> tuple[dict[str, Any], bytes]:
        """Send one request and read its response."""
        self.send_raw(framing.encode_frame(framing.request_header(op, **fields), body))
        frame = self.read_frame()
        assert frame is not None, "connection closed before a response"
        return frame

    def invoke(self, body: bytes | str, content_type: str | None = "application/json",
               accept: str | None = None, **fields: Any) -> tuple[dict[str, Any], bytes]:
        """An invoke request."""
        raw = body.encode() if isinstance(body, str) else body
        return self.request("invoke", raw, content_type=content_type, accept=accept, **fields)

    def closed_by_peer(self) -> bool:
        """True when the server has closed this connection."""
        try:
            return self.sock.recv(1) == b""
        except OSError:
            return True

    def close(self) -> None:
        """Close the connection."""
        self.sock.close()

    def _read(self, size: int) -> bytes | None:
        chunks, remaining = [], size
        while remaining:
            chunk = self.sock.recv(min(remaining, 1 << 20))
            if not chunk:
                if remaining == size and size:
                    return None
                raise ConnectionError("connection closed mid-frame")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)


class Gate:
    """A FIFO that a handler blocks on (``open(path).read()``): ``wait_entered`` returns once the handler
    has opened it, which proves the handler is running; ``release`` lets the handler return."""

    def __init__(self, directory: Path, name: str = "gate") -> None:
        self.path = directory / name
        os.mkfifo(self.path)
        self._fd: int | None = None

    def wait_entered(self, timeout: float = 30.0) -> None:
        """Block until a reader (the handler) holds the FIFO open; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                    raise AssertionError(f"nothing opened {self.path} within {timeout}s") from exc
                time.sleep(0.01)

    def assert_not_entered(self) -> None:
        """Fail when a reader holds the FIFO open (that reader is released by the check)."""
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                return
            raise
        raise AssertionError(f"{self.path} was opened")

    def release(self) -> None:
        """Close the writing end: the handler's read returns."""
        if self._fd is None:
            self.wait_entered()
        assert self._fd is not None
        os.close(self._fd)
        self._fd = None


def wait_for(condition: Callable[[], bool], toolkit: Toolkit, timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail if the toolkit exits first or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if toolkit.process.poll() is not None and not condition():
            raise AssertionError(f"toolkit exited with {toolkit.process.returncode}:\n{toolkit.stderr()}")
        assert time.monotonic() < deadline, f"condition not met within {timeout}s:\n{toolkit.stderr()}"
        time.sleep(0.01)
