"""What a service call knows: who asked, where, and the server's shared parts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from modelyard.settings import Settings
from modelyard.store.database import Database


@dataclass
class AppState:
    """The server's long-lived parts, shared by every request.

    ``extensions`` holds optional subsystems (controllers, log store, router) by name, so services
    reach them without importing the layers that own them.
    """

    settings: Settings
    db: Database
    extensions: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestContext:
    """One request's identity and the app state."""

    account: str
    region: str
    request_id: str
    app: AppState
    operation: str = ""
    now: float = field(default_factory=time.time)

    @property
    def db(self) -> Database:
        """The metadata store."""
        return self.app.db

    @property
    def settings(self) -> Settings:
        """The server settings."""
        return self.app.settings
