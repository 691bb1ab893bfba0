"""Concurrent client load for the deployment tests: threads invoking an endpoint until stopped, every
answer and every failure counted with its time."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from tests.conftest import client_for
from tests.support.server import ServerProcess


@dataclass
class Outcome:
    """One call: when it ended, the model's answer (``y[0]``) or the error's code and message."""

    at: float
    answer: float | None
    error: str | None = None
    message: str = ""


@dataclass
class Load:
    """``clients`` threads, each with its own sagemaker-runtime client, invoking ``endpoint`` back to back."""

    server: ServerProcess
    endpoint: str
    clients: int = 8
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Load:
        for _ in range(self.clients):
            thread = threading.Thread(target=self._run, args=(client_for(self.server, "sagemaker-runtime"),),
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _run(self, runtime: Any) -> None:
        while not self._stop.is_set():
            try:
                response = runtime.invoke_endpoint(EndpointName=self.endpoint, ContentType="application/json",
                                                   Body=json.dumps({"x": [1]}))
                outcome = Outcome(time.monotonic(), json.loads(response["Body"].read())["y"][0])
            except ClientError as error:
                outcome = Outcome(time.monotonic(), None, error.response["Error"]["Code"],
                                  error.response["Error"].get("Message", ""))
            except Exception as error:  # a transport failure is a failed client request too
                outcome = Outcome(time.monotonic(), None, type(error).__name__, str(error))
            with self._lock:
                self.outcomes.append(outcome)

    def snapshot(self) -> list[Outcome]:
        """The outcomes so far."""
        with self._lock:
            return list(self.outcomes)

    def failures(self) -> list[Outcome]:
        """The failed calls."""
        return [o for o in self.snapshot() if o.error is not None]
