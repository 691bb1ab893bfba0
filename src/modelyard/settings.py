"""One typed settings object, read once at start-up and passed down.

Precedence: explicit arguments (CLI flags) > ``MODELYARD_*`` environment variables > defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

DEFAULT_ACCOUNT_ID = "000000000000"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Limits:
    """Request and invocation limits; SageMaker's values by default."""

    control_body_bytes: int = 16 * 1024 * 1024
    invoke_body_bytes: int = 6_291_456
    invoke_timeout_seconds: float = 60.0
    health_check_timeout_seconds: float = 240.0


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know about its configuration."""

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = field(default_factory=lambda: Path.home() / ".modelyard")
    database_url: str | None = None
    account_id: str = DEFAULT_ACCOUNT_ID
    default_region: str = DEFAULT_REGION
    sandbox: bool | None = None
    limits: Limits = field(default_factory=Limits)
    auth: bool = True
    file_uris: str = "any"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'modelyard.db'}"



SERVER_MODE_FILE_URIS = "allow-list"
"""The ``file://`` policy when auth is on and ``MODELYARD_FILE_URIS`` is not set."""


def parse_switch(value: str, name: str) -> bool:
    """``on``/``off`` (also true/false, 1/0, yes/no) as a bool; ValueError naming ``name`` otherwise."""
    lowered = value.strip().lower()
    if lowered in ("on", "true", "1", "yes"):
        return True
    if lowered in ("off", "false", "0", "no"):
        return False
    raise ValueError(f"{name} must be on or off, not {value!r}")


_ENV_FIELDS = {
    "host": str,
    "port": int,
    "data_dir": Path,
    "database_url": str,
    "account_id": str,
    "default_region": str,
}


_LIMIT_ENV = {
    "MODELYARD_INVOKE_TIMEOUT_SECONDS": ("invoke_timeout_seconds", float),
    "MODELYARD_INVOKE_MAX_BYTES": ("invoke_body_bytes", int),
    "MODELYARD_HEALTH_CHECK_TIMEOUT_SECONDS": ("health_check_timeout_seconds", float),
    "MODELYARD_CONTROL_MAX_BYTES": ("control_body_bytes", int),
}


def settings_from_env(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from ``MODELYARD_*`` variables, then apply explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name, kind in _ENV_FIELDS.items():
        raw = env.get(f"MODELYARD_{name.upper()}")
        if raw:
            values[name] = kind(raw)
    limits = {name: kind(env[var]) for var, (name, kind) in _LIMIT_ENV.items() if env.get(var)}
    if limits:
        values["limits"] = replace(Limits(), **limits)
    auth = env.get("MODELYARD_AUTH")
    if auth:
        values["auth"] = parse_switch(auth, "MODELYARD_AUTH")
    if env.get("MODELYARD_FILE_URIS"):
        values["file_uris"] = env["MODELYARD_FILE_URIS"]
    sandbox = env.get("MODELYARD_SANDBOX")
    if sandbox:
        values["sandbox"] = sandbox.lower() not in ("0", "false", "off", "no")
    known = {f.name for f in fields(Settings)}
    values.update({k: v for k, v in overrides.items() if v is not None and k in known})
    if "file_uris" not in values and values.get("auth", True):
        values["file_uris"] = SERVER_MODE_FILE_URIS
    settings = Settings(**values)  # type: ignore[arg-type]
    return replace(settings, data_dir=Path(settings.data_dir).expanduser())
