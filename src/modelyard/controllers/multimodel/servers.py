"""How a loaded model is served: by a toolkit process of its own, or inside a bring-your-own
multi-model container through SageMaker's container contract (``/models/{name}``)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable
from pathlib import Path
from typing import Protocol

from modelyard.controllers.launcher import Instance, Launcher, local_process
from modelyard.controllers.preparation import PreparedContainer, Preparer
from modelyard.hosting.http_instance import HttpInstance
from modelyard.hosting.instances import Invocation, Reply
from modelyard.runtime.containers import ContainerProcess
from modelyard.runtime.exit_notice import ExitNotice
from modelyard.runtime.resident import resident_bytes

UNLOAD_GRACE_SECONDS = 2.0


class ModelServer(Protocol):
    """One loaded model, however it is served."""

    def invoke(self, invocation: Invocation, timeout: float) -> Awaitable[Reply]:
        """Call the model; raises asyncio.TimeoutError or OSError as instances do."""

    def alive(self) -> bool:
        """Whether the model can still answer."""

    def memory_bytes(self) -> int:
        """What the model holds in memory now (blocking: reads /proc)."""

    def ended_reason(self) -> str:
        """Why it stopped answering (after ``alive`` turned False)."""

    async def stop(self) -> None:
        """Unload it and give back what its load took (files, environment lease)."""


class OwnProcess:
    """A model in a sandboxed toolkit process of its own: stopping the process returns its memory."""

    def __init__(self, instance: Instance, prepared: PreparedContainer, launcher: Launcher,
                 preparer: Preparer) -> None:
        self.instance = instance
        self.prepared = prepared
        self.launcher = launcher
        self.preparer = preparer
        process = instance.process
        self._exit = ExitNotice.watch(process.pid) if isinstance(process, ContainerProcess) else None
        """Tells ``alive`` of the process's end without a ``waitpid`` per call (None: poll instead)."""

    def invoke(self, invocation: Invocation, timeout: float) -> Awaitable[Reply]:
        """One frame to the model's process (the instance client's own coroutine, awaited by the caller)."""
        return self.instance.client.invoke(invocation, timeout)

    def alive(self) -> bool:
        """Whether its process runs."""
        notice = self._exit
        if notice is not None and not notice.ended:
            return True
        return self.instance.process.poll() is None

    def memory_bytes(self) -> int:
        """The resident set of its processes."""
        return resident_bytes(local_process(self.instance))

    def ended_reason(self) -> str:
        """The limit that killed it, else its last log lines."""
        probe = self.instance.client.ended
        ending = probe() if probe is not None else None
        if ending is not None and ending.limit:
            return ending.limit
        return self.launcher.failure_reason(self.instance)

    async def stop(self) -> None:
        """Stop the process, remove its files, release its preparation."""
        if self.instance.stopping:
            return
        self.instance.stopping = True
        await self.instance.client.close()
        await asyncio.to_thread(self.launcher.stop, self.instance, UNLOAD_GRACE_SECONDS)
        if self._exit is not None:
            self._exit.close()
        await asyncio.to_thread(self.preparer.release, self.prepared)


class ContractModel:
    """A model loaded into a bring-your-own multi-model container with ``POST /models``."""

    def __init__(self, container: Instance, name: str, files: Path, artifact: Path, preparer: Preparer,
                 memory: int) -> None:
        self.container = container
        self.name = name
        self.files = files
        self.artifact = artifact
        self.preparer = preparer
        self.memory = memory
        self.stopped = False

    @property
    def client(self) -> HttpInstance:
        """The container's HTTP client."""
        assert isinstance(self.container.client, HttpInstance)
        return self.container.client

    async def invoke(self, invocation: Invocation, timeout: float) -> Reply:
        """``POST /models/{name}/invoke``."""
        return await self.client.invoke(invocation, timeout, path=f"/models/{self.name}/invoke")

    def alive(self) -> bool:
        """Whether the container runs."""
        return self.container.process.poll() is None and not self.stopped

    def memory_bytes(self) -> int:
        """What the container grew by when the model was loaded (a container's memory is not per model)."""
        return self.memory

    def ended_reason(self) -> str:
        """How the container ended, or that it dropped the model."""
        code = self.container.process.poll()
        return "the container dropped the model" if code is None else f"the container exited with code {code}"

    async def stop(self) -> None:
        """``DELETE /models/{name}``, then remove its files and release the artifact."""
        if self.stopped:
            return
        self.stopped = True
        if self.container.process.poll() is None:
            await self.client.request("DELETE", f"/models/{self.name}", None, 30.0)
        await asyncio.to_thread(shutil.rmtree, self.files, True)
        await asyncio.to_thread(self.preparer.cache.release, self.artifact)
