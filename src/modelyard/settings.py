"""One typed settings object, read once at start-up and passed down.

Precedence: explicit arguments (CLI flags) > ``MODELYARD_*`` environment variables > defaults.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

DEFAULT_ACCOUNT_ID = "000000000000"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Limits:
    """Request and invocation limits; SageMaker's values by default."""

    control_body_bytes: int = 16 * 1024 * 1024
    invoke_body_bytes: int = 6_291_456
    invoke_timeout_seconds: float = 60.0
    health_check_timeout_seconds: float = 240.0


FileUriMode = Literal["any", "allow-list", "off"]
FILE_URI_MODES: tuple[FileUriMode, ...] = ("any", "allow-list", "off")
GIB = 1024 ** 3


@dataclass(frozen=True)
class DataLimits:
    """How much a copy of user data (artifacts, job inputs and outputs) may hold, and the cache's budget."""

    copy_max_bytes: int = 50 * GIB
    copy_max_files: int = 1_000_000
    tar_max_ratio: float = 200.0
    tar_ratio_floor_bytes: int = 1 * GIB
    artifact_cache_bytes: int = 100 * GIB


@dataclass(frozen=True)
class EdgeLimits:
    """What one connection or one client may hold of the server (see the README's Configuration)."""

    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 60.0
    keep_alive_timeout_seconds: float = 5.0
    max_header_bytes: int = 16 * 1024
    max_connections: int = 4096
    max_connections_per_client: int = 512
    control_concurrency: int = 2
    control_queue: int = 128
    decode_offload_bytes: int = 64 * 1024
    decode_workers: int = 1


@dataclass(frozen=True)
class CaptureLimits:
    """Data capture: the in-memory queue beside the invoke path, file rotation, and the disk reserve."""

    queue_records: int = 10_000
    queue_bytes: int = 64 * 1024 * 1024
    rotate_seconds: float = 60.0
    rotate_bytes: int = 16 * 1024 * 1024
    min_free_bytes: int = 1 * GIB


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
    file_uris: FileUriMode | None = None
    file_roots: tuple[Path, ...] = ()
    data_limits: DataLimits = field(default_factory=DataLimits)
    restart_reset_seconds: float = 300.0
    edge: EdgeLimits = field(default_factory=EdgeLimits)
    capture: CaptureLimits = field(default_factory=CaptureLimits)

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'modelyard.db'}"

    @property
    def file_uri_mode(self) -> FileUriMode:
        """How ``file://`` URIs and plain paths are treated: the explicit setting, else the default."""
        return self.file_uris or default_file_uri_mode(self)

    @property
    def allowed_file_roots(self) -> tuple[Path, ...]:
        """Where ``file://`` URIs may point under ``allow-list``: the configured roots and the CLI's uploads."""
        return (*self.file_roots, uploads_dir(self.data_dir))


def uploads_dir(data_dir: Path) -> Path:
    """Where ``modelyard deploy`` puts packed models by default: ``<data dir>-uploads``, beside the data dir
    (the server never reads user data from inside its own data dir)."""
    return data_dir.with_name(data_dir.name + "-uploads")


def default_file_uri_mode(settings: Settings) -> FileUriMode:
    """The ``file://`` mode when none is configured: ``allow-list`` in server mode (authentication on),
    ``any`` when authentication is off (a local developer's server on a loopback address)."""
    return "allow-list" if settings.auth else "any"


def _file_uri_mode(raw: str) -> FileUriMode:
    value = raw.strip().lower()
    for mode in FILE_URI_MODES:
        if value == mode:
            return mode
    raise ValueError(f"MODELYARD_FILE_URIS must be one of {', '.join(FILE_URI_MODES)}; got {raw!r}")


def _file_roots(raw: str) -> tuple[Path, ...]:
    return tuple(Path(part).expanduser() for part in raw.split(os.pathsep) if part.strip())


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


_Group = TypeVar("_Group", bound=Any)

_DATA_LIMIT_ENV = {
    "MODELYARD_COPY_MAX_BYTES": ("copy_max_bytes", int),
    "MODELYARD_COPY_MAX_FILES": ("copy_max_files", int),
    "MODELYARD_TAR_MAX_RATIO": ("tar_max_ratio", float),
    "MODELYARD_TAR_RATIO_FLOOR_BYTES": ("tar_ratio_floor_bytes", int),
    "MODELYARD_ARTIFACT_CACHE_BYTES": ("artifact_cache_bytes", int),
}


def _overridden(defaults: _Group, table: Mapping[str, tuple[str, Callable[[str], object]]],
                env: Mapping[str, str]) -> _Group | None:
    """``defaults`` with the fields ``table`` maps from variables set in ``env``; None when none is set."""
    changes = {name: kind(env[var]) for var, (name, kind) in table.items() if env.get(var)}
    return replace(defaults, **changes) if changes else None


def _data_settings(env: Mapping[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    data_limits = _overridden(DataLimits(), _DATA_LIMIT_ENV, env)
    if data_limits is not None:
        values["data_limits"] = data_limits
    if env.get("MODELYARD_FILE_URIS"):
        values["file_uris"] = _file_uri_mode(env["MODELYARD_FILE_URIS"])
    if env.get("MODELYARD_FILE_ROOTS"):
        values["file_roots"] = _file_roots(env["MODELYARD_FILE_ROOTS"])
    if env.get("MODELYARD_RESTART_RESET_SECONDS"):
        values["restart_reset_seconds"] = float(env["MODELYARD_RESTART_RESET_SECONDS"])
    return values


_EDGE_ENV = {
    "MODELYARD_HEADER_TIMEOUT_SECONDS": ("header_timeout_seconds", float),
    "MODELYARD_BODY_TIMEOUT_SECONDS": ("body_timeout_seconds", float),
    "MODELYARD_KEEP_ALIVE_TIMEOUT_SECONDS": ("keep_alive_timeout_seconds", float),
    "MODELYARD_MAX_HEADER_BYTES": ("max_header_bytes", int),
    "MODELYARD_MAX_CONNECTIONS": ("max_connections", int),
    "MODELYARD_MAX_CONNECTIONS_PER_CLIENT": ("max_connections_per_client", int),
    "MODELYARD_CONTROL_CONCURRENCY": ("control_concurrency", int),
    "MODELYARD_CONTROL_QUEUE": ("control_queue", int),
    "MODELYARD_DECODE_OFFLOAD_BYTES": ("decode_offload_bytes", int),
    "MODELYARD_DECODE_WORKERS": ("decode_workers", int),
}


_CAPTURE_ENV = {
    "MODELYARD_CAPTURE_QUEUE_RECORDS": ("queue_records", int),
    "MODELYARD_CAPTURE_QUEUE_BYTES": ("queue_bytes", int),
    "MODELYARD_CAPTURE_ROTATE_SECONDS": ("rotate_seconds", float),
    "MODELYARD_CAPTURE_ROTATE_BYTES": ("rotate_bytes", int),
    "MODELYARD_CAPTURE_MIN_FREE_BYTES": ("min_free_bytes", int),
}


def settings_from_env(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from ``MODELYARD_*`` variables, then apply explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name, kind in _ENV_FIELDS.items():
        raw = env.get(f"MODELYARD_{name.upper()}")
        if raw:
            values[name] = kind(raw)
    for name, group in (("limits", _overridden(Limits(), _LIMIT_ENV, env)),
                        ("edge", _overridden(EdgeLimits(), _EDGE_ENV, env)),
                        ("capture", _overridden(CaptureLimits(), _CAPTURE_ENV, env))):
        if group is not None:
            values[name] = group
    auth = env.get("MODELYARD_AUTH")
    if auth:
        values["auth"] = parse_switch(auth, "MODELYARD_AUTH")
    sandbox = env.get("MODELYARD_SANDBOX")
    if sandbox:
        values["sandbox"] = sandbox.lower() not in ("0", "false", "off", "no")
    values.update(_data_settings(env))
    known = {f.name for f in fields(Settings)}
    values.update({k: v for k, v in overrides.items() if v is not None and k in known})
    settings = Settings(**values)  # type: ignore[arg-type]
    return replace(settings, data_dir=Path(settings.data_dir).expanduser())
