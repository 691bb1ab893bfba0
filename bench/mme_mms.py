"""The baseline of bench/mme.py: AWS's sagemaker-inference toolkit + multi-model-server in multi-model
mode (``SAGEMAKER_MULTI_MODEL=true``, as SageMaker's framework containers run it for an MME), with the
part SageMaker's platform plays in front of it played here.

    MmsServer     multi-model-server started with the toolkit's own MME configuration (default handler
                  ../shared/bench/mms_handler.py, one worker per model), on a private properties file
                  and socket directory, so it does not collide with another MMS on the machine
    MmsPlatform   what SageMaker does for a TargetModel: unpack the artifact, ``POST /models`` on the
                  first call (one load per model), unload the least recently used idle model when the
                  budget of loaded models is full (``DELETE /models/{name}``), then
                  ``POST /models/{name}/invoke``
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import tarfile
import threading
import time
import urllib.request
from collections import OrderedDict
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "bench"
SERVE = '''
import os, sys
from sagemaker_inference import environment, model_server

properties = model_server._generate_mms_config_properties(environment.Environment())
properties = properties.replace("$$SAGEMAKER_HANDLER$$", os.environ["SAGEMAKER_HANDLER"])
path = os.path.join(os.environ["MMS_WORK"], "mms.properties")
with open(path, "w") as handle:
    handle.write(properties)
os.execvp("multi-model-server", ["multi-model-server", "--start", "--foreground", "--model-store", "/",
                                 "--mms-config", path, "--log-config", model_server.DEFAULT_MMS_LOG_FILE])
'''


class MmsServer:
    """multi-model-server in multi-model mode on ``port``, importing ``inference.py`` from ``code``."""

    def __init__(self, python: Path, code: Path, work: Path, port: int) -> None:
        self.port = port
        work.mkdir(parents=True, exist_ok=True)
        (work / "sockets").mkdir(exist_ok=True)
        env = {**os.environ, "PATH": f"{python.parent}:{os.environ.get('PATH', '')}", "MMS_WORK": str(work),
               "SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_HANDLER": "mms_handler",
               "SAGEMAKER_BIND_TO_PORT": str(port), "PYTHONPATH": f"{code}:{SHARED}",
               "SAGEMAKER_MODEL_SERVER_VMARGS": f"-XX:-UseContainerSupport -Djava.io.tmpdir={work / 'sockets'}",
               "LOG_LOCATION": str(work), "METRICS_LOCATION": str(work)}
        self.log = work / "mms.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen([str(python), "-c", SERVE], cwd=work, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Return once ``/ping`` answers 200; raise with the log's tail if MMS exits or never answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"multi-model-server exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"multi-model-server not ready after {timeout:.0f} s")

    def stop(self) -> None:
        """Stop MMS and its workers (its own process group)."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class CallFailed(Exception):
    """A call answered other than 200; ``kind`` names it for the error table."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class MmsPlatform:
    """SageMaker's part for an MMS multi-model container: load on first call, LRU unload, invoke."""

    def __init__(self, port: int, prefix: Path, unpacked: Path, capacity: int, timeout: float) -> None:
        self.port = port
        self.prefix = prefix
        self.unpacked = unpacked
        self.capacity = capacity
        self.timeout = timeout
        self.lock = threading.Lock()
        self.loaded: OrderedDict[str, int] = OrderedDict()
        """Loaded model name -> calls in flight, least recently used first."""
        self.loading: dict[str, threading.Lock] = {}

    def connection(self) -> http.client.HTTPConnection:
        """A keep-alive connection for one client thread."""
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)

    def invoke(self, connection: http.client.HTTPConnection, target: str, body: bytes) -> bytes:
        """One call for ``target``, loading it first if needed; raises CallFailed."""
        name = target.removesuffix(".tar.gz")
        self._ready(connection, name, target)
        try:
            status, payload = _request(connection, "POST", f"/models/{name}/invoke", body)
        finally:
            with self.lock:
                if name in self.loaded:
                    self.loaded[name] -= 1
        if status != 200:
            raise CallFailed(f"MMS invoke {status}: {payload[:120]!r}")
        return payload

    def _ready(self, connection: http.client.HTTPConnection, name: str, target: str) -> None:
        while True:
            with self.lock:
                if name in self.loaded:
                    self.loaded[name] += 1
                    self.loaded.move_to_end(name)
                    return
                gate = self.loading.setdefault(name, threading.Lock())
            with gate:
                with self.lock:
                    if name in self.loaded:
                        continue
                self._load(connection, name, target)
                with self.lock:
                    self.loaded[name] = 0
                    self.loading.pop(name, None)

    def _load(self, connection: http.client.HTTPConnection, name: str, target: str) -> None:
        while True:
            with self.lock:
                idle = [n for n, calls in self.loaded.items() if not calls]
                victim = idle[0] if len(self.loaded) >= self.capacity and idle else None
                if victim is not None:
                    del self.loaded[victim]
            if victim is None:
                break
            _request(connection, "DELETE", f"/models/{victim}", None)
        files = self.unpacked / name
        if not files.exists():
            with tarfile.open(self.prefix / target) as tar:
                tar.extractall(files, filter="data")
        status, payload = _request(connection, "POST", "/models",
                                   json.dumps({"model_name": name, "url": str(files)}).encode())
        if status not in (200, 409):
            raise CallFailed(f"MMS load {status}: {payload[:120]!r}")


def _request(connection: http.client.HTTPConnection, method: str, path: str,
             body: bytes | None) -> tuple[int, bytes]:
    connection.request(method, path, body, {"Content-Type": "application/json"} if body is not None else {})
    response = connection.getresponse()
    return response.status, response.read()
