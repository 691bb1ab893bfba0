"""Install training and processing jobs into the server: the job controller and its two runners.

The runtime parts (images, environments, process backend, log store) are shared with hosting when it is
installed first, so one environment serves an endpoint and a job alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelyard.server import ModelyardApp

JOB_WORKERS = 4
STOP_GRACE_SECONDS = 30.0


def install_jobs(app: ModelyardApp) -> None:
    """Attach the job controller to ``app`` (``extensions["jobs"]``)."""
    from modelyard.controllers.jobs.controller import JobController
    from modelyard.controllers.jobs.processing import ProcessingRunner
    from modelyard.controllers.jobs.tools import JobTools
    from modelyard.controllers.jobs.training import TrainingRunner
    from modelyard.logstore import LogStore
    from modelyard.runtime.environments import EnvironmentBuilder
    from modelyard.runtime.images import ImageRegistry
    from modelyard.runtime.process import ProcessBackend
    from modelyard.storage import ArtifactCache, ObjectStore

    state = app.state
    data_dir = state.settings.data_dir
    preparer = state.extensions.get("preparer")
    images = state.extensions.get("images") or ImageRegistry(data_dir / "images")
    builder = preparer.builder if preparer is not None else EnvironmentBuilder(data_dir / "envs")
    store = ObjectStore()
    tools = JobTools(
        images=images, builder=builder, store=store, cache=ArtifactCache(data_dir / "artifacts", store),
        backend=state.extensions.get("backend") or ProcessBackend(sandbox=state.settings.sandbox),
        logs=state.extensions.setdefault("logstore", LogStore(data_dir / "logs")), data_dir=data_dir,
    )
    controller = JobController(state, [TrainingRunner(tools), ProcessingRunner(tools)],
                               workers=JOB_WORKERS, stop_grace=STOP_GRACE_SECONDS)
    state.extensions["jobs"] = controller
    app.on_startup.append(controller.start)
    app.on_shutdown.append(controller.stop)
