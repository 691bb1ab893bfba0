"""A bring-your-own multi-model container: one per instance, models added and removed through
SageMaker's container contract.

    POST   /models {"model_name", "url"}   200 loaded, 409 already loaded, 507 out of resources
    POST   /models/{name}/invoke            the model's answer
    DELETE /models/{name}                   unload

The model's unpacked artifact is copied (hard links where possible) into the instance's own
``/opt/ml/models/<name>/``, the only place the sandboxed container can read it; ``model_name`` is opaque
(a hash of the TargetModel and its content), so a changed artifact is a new name.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from modelyard.controllers.launcher import Instance, Launcher, local_process
from modelyard.controllers.multimodel.servers import UNLOAD_GRACE_SECONDS, ContractModel
from modelyard.controllers.preparation import Preparer
from modelyard.hosting.http_instance import HttpInstance
from modelyard.runtime.resident import resident_bytes

if TYPE_CHECKING:
    from modelyard.controllers.multimodel.host import HostSetup

MULTI_MODEL_ENV = "SAGEMAKER_MULTI_MODEL"
LOAD_ATTEMPTS = 3


class LoadRefused(Exception):
    """The container answered ``POST /models`` with an error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def supports_multi_model(environment: dict[str, str]) -> bool:
    """Whether an image (its manifest's env, or the container's Environment) declares the contract."""
    return environment.get(MULTI_MODEL_ENV, "").strip().lower() == "true"


class ContractContainer:
    """The instance's one bring-your-own container; started on demand and again after it dies."""

    def __init__(self, setup: HostSetup, launcher: Launcher, preparer: Preparer, host_id: str,
                 note: Callable[[str], None]) -> None:
        self.setup = setup
        self.launcher = launcher
        self.preparer = preparer
        self.host_id = host_id
        self.note = note
        self.instance: Instance | None = None
        self._starting: asyncio.Lock = asyncio.Lock()

    async def ensure(self) -> Instance:
        """The running container, started (and /ping answered) first when needed."""
        async with self._starting:
            if self.instance is not None and self.instance.process.poll() is None:
                return self.instance
            if self.instance is not None:
                self.note(f"the multi-model container exited with code {self.instance.process.returncode}; "
                          "starting it again")
                await asyncio.to_thread(self.launcher.stop, self.instance, 0.5)
            setup = self.setup
            instance = await asyncio.to_thread(
                self.launcher.start, setup.region, setup.endpoint, setup.variant, setup.base,
                setup.network_isolated, setup.log_group, setup.instance_type, account=setup.account,
                volume_gb=setup.volume_gb, stream=f"{setup.variant}/{self.host_id}/container",
                extra_env={MULTI_MODEL_ENV: "true"})
            try:
                await self.launcher.wait_ready(instance, setup.health_timeout)
            except BaseException:
                await asyncio.to_thread(self.launcher.stop, instance, 0.5)
                raise
            self.instance = instance
            return instance

    async def load(self, target: str, fingerprint: str, artifact: Path,
                   make_room: Callable[[], Awaitable[bool]]) -> ContractModel:
        """``POST /models`` for ``target`` (unpacked at ``artifact``); a 507 unloads the least recently
        used model and tries again; raises ``LoadRefused`` with the container's answer."""
        container = await self.ensure()
        client = container.client
        assert isinstance(client, HttpInstance)
        name = "m" + hashlib.sha256(f"{target}\0{fingerprint}".encode()).hexdigest()[:24]
        files = container.directory / "opt_ml" / "models" / name
        await asyncio.to_thread(_copy_model, artifact, files)
        url = f"/opt/ml/models/{name}" if self.launcher.backend.sandboxed else str(files)
        before = await asyncio.to_thread(resident_bytes, local_process(container))
        try:
            for _ in range(LOAD_ATTEMPTS):
                reply = await client.request("POST", "/models", {"model_name": name, "url": url},
                                             self.setup.health_timeout)
                if reply.status < 300 or reply.status == 409:
                    break
                if reply.status == 507 and await make_room():
                    continue
                raise LoadRefused(reply.status, reply.body.decode("utf-8", "replace")[:2000] or
                                  f"POST /models answered {reply.status}")
            else:
                raise LoadRefused(507, "the container is out of resources even with no other model loaded")
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, files, True)
            raise
        after = await asyncio.to_thread(resident_bytes, local_process(container))
        return ContractModel(container, name, files, artifact, self.preparer, max(after - before, 0))

    async def close(self) -> None:
        """Stop the container."""
        if self.instance is not None:
            await self.instance.client.close()
            await asyncio.to_thread(self.launcher.stop, self.instance, UNLOAD_GRACE_SECONDS)
            self.instance = None


def _copy_model(source: Path, dest: Path) -> None:
    """``source``'s tree at ``dest`` (hard links on the same filesystem, else copies), readable by the
    container's user."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, dest, copy_function=link_or_copy)
    for root, directories, _ in os.walk(dest):
        for directory in directories:
            os.chmod(os.path.join(root, directory), 0o755)
    os.chmod(dest, 0o755)
