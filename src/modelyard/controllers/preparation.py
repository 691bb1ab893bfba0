"""Turn a model container into what an instance needs: image spec, ready environment, model files.

Blocking (downloads, uv builds): controllers call it in a worker thread. Results are shared per
container *and* per content of its artifacts (the cache's fingerprint: ETag and size, or a file's
time and size), so N instances and restarts reuse one preparation while a model overwritten at the
same URI is prepared afresh for whoever asks next. Each ``prepare`` is matched by a ``release``
when its user (a deployment, a transform job) ends; the last release lets the artifact cache evict
the model's files.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from modelyard.controllers.endpoints.plans import ContainerPlan, PlanError
from modelyard.runtime.environments import Environment, EnvironmentBuilder
from modelyard.runtime.errors import EnvironmentBuildError, UnknownImageError
from modelyard.runtime.images import ImageRegistry, ImageSpec
from modelyard.storage.cache import ArtifactCache
from modelyard.storage.errors import StorageError

SUBMIT_DIRECTORY = "SAGEMAKER_SUBMIT_DIRECTORY"
MODEL_CODE_DIR = "/opt/ml/model/code"


@dataclass(frozen=True)
class PreparedContainer:
    """A container ready to launch."""

    plan: ContainerPlan
    image: ImageSpec
    environment: Environment
    model_dir: Path | None
    code_dir: Path | None
    content: str = ""
    """The fingerprints of the artifacts it was prepared from."""


class ArtifactUnusable(PlanError):
    """The model artifact could not be fetched or unpacked (missing, not an archive, over a limit)."""


class EnvironmentUnbuildable(PlanError):
    """The model's environment could not be built (its requirements cannot be installed)."""


def _key(plan: ContainerPlan, content: str) -> str:
    return repr((plan.image, plan.model_data_url, sorted(plan.environment.items()), content))


def _remote_submit(plan: ContainerPlan) -> str | None:
    """``SAGEMAKER_SUBMIT_DIRECTORY`` when it names an archive or location to fetch (not a model path)."""
    submit = plan.environment.get(SUBMIT_DIRECTORY)
    if submit and (submit.startswith(("s3://", "file://")) or submit.endswith((".tar.gz", ".tgz"))):
        return submit
    return None


class Preparer:
    """Resolves images, fetches artifacts and builds environments, once per distinct container."""

    def __init__(self, images: ImageRegistry, builder: EnvironmentBuilder, cache: ArtifactCache) -> None:
        self.images = images
        self.builder = builder
        self.cache = cache
        self._done: dict[str, PreparedContainer] = {}
        self._users: dict[str, int] = {}
        self._leases: dict[str, list[Path]] = {}
        self._lock = threading.Lock()

    def prepare(self, plan: ContainerPlan, progress=None) -> PreparedContainer:  # type: ignore[no-untyped-def]
        """The prepared container; raises PlanError with a FailureReason a user can act on."""
        content = self._content(plan)
        key = _key(plan, content)
        with self._lock:
            cached = self._done.get(key)
            if cached is not None:
                self._users[key] += 1
                return cached
        leases: list[Path] = []
        try:
            prepared = self._prepare(plan, content, progress, leases)
        except BaseException:
            self._release_files(leases)
            raise
        with self._lock:
            if key in self._done:
                duplicate, prepared = leases, self._done[key]
            else:
                duplicate, self._done[key], self._leases[key] = [], prepared, leases
            self._users[key] = self._users.get(key, 0) + 1
        self._release_files(duplicate)
        return prepared

    def release(self, prepared: PreparedContainer) -> None:
        """One user of ``prepared`` is done with it; after the last, its artifact may be evicted."""
        key = _key(prepared.plan, prepared.content)
        with self._lock:
            if self._done.get(key) is not prepared:
                return
            self._users[key] -= 1
            if self._users[key] > 0:
                return
            del self._users[key], self._done[key]
            leases = self._leases.pop(key, [])
        self._release_files(leases)

    def _release_files(self, leases: list[Path]) -> None:
        for path in leases:
            self.cache.release(path)

    def _content(self, plan: ContainerPlan) -> str:
        uris = [uri for uri in (plan.model_data_url, _remote_submit(plan)) if uri]
        try:
            return "\n".join(self.cache.fingerprint(uri) for uri in uris)
        except StorageError as exc:
            raise ArtifactUnusable(f"Could not fetch the model artifact: {exc}") from None

    def _prepare(self, plan: ContainerPlan, content: str, progress,  # type: ignore[no-untyped-def]
                 leases: list[Path]) -> PreparedContainer:
        try:
            image = self.images.resolve(plan.image)
        except UnknownImageError as exc:
            raise PlanError(str(exc)) from None
        try:
            model_dir = self._fetch(plan.model_data_url, leases) if plan.model_data_url else None
            code_dir = self._code_dir(plan, model_dir, leases)
        except StorageError as exc:
            raise ArtifactUnusable(f"Could not fetch the model artifact: {exc}") from None
        requirements = None
        if code_dir is not None and (code_dir / "requirements.txt").is_file():
            requirements = (code_dir / "requirements.txt").read_text()
        try:
            environment = self.builder.ensure(image, requirements, progress=progress)
        except EnvironmentBuildError as exc:
            raise EnvironmentUnbuildable(f"Could not build the model's environment: {exc}") from None
        external = None if code_dir is None or (model_dir and model_dir in code_dir.parents) else code_dir
        return PreparedContainer(plan, image, environment, model_dir, external or code_dir, content)

    def _fetch(self, uri: str, leases: list[Path]) -> Path:
        path = self.cache.fetch_model(uri)
        leases.append(path)
        return path

    def _code_dir(self, plan: ContainerPlan, model_dir: Path | None, leases: list[Path]) -> Path | None:
        remote = _remote_submit(plan)
        if remote:
            return self._fetch(remote, leases)
        submit = plan.environment.get(SUBMIT_DIRECTORY)
        if model_dir is None:
            return None
        if submit and submit.startswith("/opt/ml/model"):
            return model_dir / submit[len("/opt/ml/model"):].lstrip("/")
        return model_dir / "code"
