"""Turn a model container into what an instance needs: image spec, ready environment, model files.

Blocking (downloads, uv builds): controllers call it in a worker thread. Results are cached per
container, so N instances and restarts reuse one preparation.
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


class Preparer:
    """Resolves images, fetches artifacts and builds environments, once per distinct container."""

    def __init__(self, images: ImageRegistry, builder: EnvironmentBuilder, cache: ArtifactCache) -> None:
        self.images = images
        self.builder = builder
        self.cache = cache
        self._done: dict[str, PreparedContainer] = {}
        self._lock = threading.Lock()

    def prepare(self, plan: ContainerPlan, progress=None) -> PreparedContainer:  # type: ignore[no-untyped-def]
        """The prepared container; raises PlanError with a FailureReason a user can act on."""
        key = repr((plan.image, plan.model_data_url, sorted(plan.environment.items())))
        with self._lock:
            cached = self._done.get(key)
        if cached is not None:
            return cached
        prepared = self._prepare(plan, progress)
        with self._lock:
            self._done[key] = prepared
        return prepared

    def forget(self) -> None:
        """Drop cached preparations (artifacts may have changed)."""
        with self._lock:
            self._done.clear()

    def _prepare(self, plan: ContainerPlan, progress) -> PreparedContainer:  # type: ignore[no-untyped-def]
        try:
            image = self.images.resolve(plan.image)
        except UnknownImageError as exc:
            raise PlanError(str(exc)) from None
        try:
            model_dir = self.cache.fetch_model(plan.model_data_url) if plan.model_data_url else None
            code_dir = self._code_dir(plan, model_dir)
        except StorageError as exc:
            raise PlanError(f"Could not fetch the model artifact: {exc}") from None
        requirements = None
        if code_dir is not None and (code_dir / "requirements.txt").is_file():
            requirements = (code_dir / "requirements.txt").read_text()
        try:
            environment = self.builder.ensure(image, requirements, progress=progress)
        except EnvironmentBuildError as exc:
            raise PlanError(f"Could not build the model's environment: {exc}") from None
        external = None if code_dir is None or (model_dir and model_dir in code_dir.parents) else code_dir
        return PreparedContainer(plan, image, environment, model_dir, external or code_dir)

    def _code_dir(self, plan: ContainerPlan, model_dir: Path | None) -> Path | None:
        submit = plan.environment.get(SUBMIT_DIRECTORY)
        if submit and (submit.startswith(("s3://", "file://")) or submit.endswith((".tar.gz", ".tgz"))):
            return self.cache.fetch_model(submit)
        if model_dir is None:
            return None
        if submit and submit.startswith("/opt/ml/model"):
            return model_dir / submit[len("/opt/ml/model"):].lstrip("/")
        return model_dir / "code"
