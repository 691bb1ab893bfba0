"""Install batch transform into the server: the transform controller, sharing hosting's preparer
(images, environments, artifact cache) and launcher (process backend, log store) when present."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelyard.server import ModelyardApp


def install_transform(app: ModelyardApp) -> None:
    """Attach the transform controller to ``app`` (``extensions["transform"]``)."""
    from modelyard.controllers.launcher import Launcher
    from modelyard.controllers.preparation import Preparer
    from modelyard.controllers.transform.controller import TransformController
    from modelyard.logstore import LogStore
    from modelyard.runtime.environments import EnvironmentBuilder
    from modelyard.runtime.images import ImageRegistry
    from modelyard.runtime.process import ProcessBackend
    from modelyard.storage import ArtifactCache, ObjectStore

    state = app.state
    data_dir = state.settings.data_dir
    preparer = state.extensions.get("preparer")
    if preparer is None:
        images = state.extensions.get("images") or ImageRegistry(data_dir / "images")
        preparer = Preparer(images, EnvironmentBuilder(data_dir / "envs"), ArtifactCache(data_dir / "artifacts"))
    launcher = state.extensions.get("launcher")
    if launcher is None:
        logs = state.extensions.setdefault("logstore", LogStore(data_dir / "logs"))
        backend = state.extensions.get("backend") or ProcessBackend(sandbox=state.settings.sandbox)
        launcher = Launcher(backend, logs, data_dir)
    store = preparer.cache.store if isinstance(preparer.cache.store, ObjectStore) else ObjectStore()
    controller = TransformController(state, preparer, launcher, store)
    state.extensions["transform"] = controller
    app.on_startup.append(controller.start)
    app.on_shutdown.append(controller.stop)
