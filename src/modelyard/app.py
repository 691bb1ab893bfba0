"""Build the server from settings: database, services, and the optional subsystems."""

from __future__ import annotations

import logging
from collections.abc import Callable

from modelyard.server import ModelyardApp
from modelyard.services.catalog import load_services
from modelyard.services.context import AppState
from modelyard.settings import Settings
from modelyard.store.database import Database

log = logging.getLogger("modelyard")


def build_app(settings: Settings) -> ModelyardApp:
    """Connect and migrate the store, register the services, and assemble the ASGI app."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database.connect(settings.resolved_database_url)
    load_services()
    state = AppState(settings=settings, db=db)
    app = ModelyardApp(state)

    async def close_db() -> None:
        db.dispose()

    app.on_shutdown.append(close_db)
    for install in _subsystems():
        install(app)
    return app


def _subsystems() -> list[Callable[[ModelyardApp], None]]:
    """Installers of the subsystems beside the control plane."""
    from modelyard.controllers.jobs_assembly import install_jobs
    from modelyard.controllers.transform_assembly import install_transform
    from modelyard.hosting.assembly import install_hosting

    return [install_hosting, install_transform, install_jobs]
