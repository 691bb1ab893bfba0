"""Install real-time hosting into the server: runtime API, router, endpoint controller."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelyard.hosting.invoke import RuntimeApi
from modelyard.hosting.router import Router

if TYPE_CHECKING:
    from modelyard.server import ModelyardApp


def install_hosting(app: ModelyardApp) -> None:
    """Attach the invoke path and the endpoint controller to ``app``."""
    from modelyard.controllers.endpoints.controller import EndpointController
    from modelyard.controllers.launcher import Launcher
    from modelyard.controllers.preparation import Preparer
    from modelyard.logstore import LogStore
    from modelyard.runtime.environments import EnvironmentBuilder
    from modelyard.runtime.images import ImageRegistry
    from modelyard.runtime.process import ProcessBackend
    from modelyard.storage.cache import ArtifactCache

    state = app.state
    data_dir = state.settings.data_dir
    router = Router()
    logs = state.extensions.setdefault("logstore", LogStore(data_dir / "logs"))
    images = ImageRegistry(data_dir / "images")
    backend = ProcessBackend(sandbox=state.settings.sandbox)
    preparer = Preparer(images, EnvironmentBuilder(data_dir / "envs"), ArtifactCache(data_dir / "artifacts"))
    launcher = Launcher(backend, logs, data_dir)
    controller = EndpointController(state, router, preparer, launcher)
    state.extensions.update({"endpoints": controller, "router": router, "images": images, "backend": backend,
                             "preparer": preparer, "launcher": launcher})
    app.runtime = RuntimeApi(router, state.settings)
    app.on_startup.append(controller.start)
    app.on_shutdown.append(controller.stop)
