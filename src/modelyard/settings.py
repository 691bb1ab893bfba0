"""One typed settings object, read once at start-up and passed down.

Precedence: explicit arguments (CLI flags) > ``MODELYARD_*`` environment variables > defaults.
"""

from __future__ import annotations

import math
import os
import tempfile
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
    serverless_idle_seconds: float = 600.0
    serverless_max_instances: int = field(default_factory=lambda: os.cpu_count() or 1)


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
class MetricsSettings:
    """CloudWatch metrics and alarms: how often the in-memory aggregates reach the store, how long
    one-minute data is kept, how often alarms are evaluated and instances sampled, whether ``/metrics``
    may be scraped without a signature from loopback, and whether endpoints count their invocations."""

    flush_seconds: float = 5.0
    retention_days: float = 15.0
    alarm_interval_seconds: float = 60.0
    instance_sample_seconds: float = 60.0
    open_scrape: bool = False
    endpoint_metrics: bool = True
    target_tracking_out_periods: int = 3
    target_tracking_in_periods: int = 15
    """The one-minute periods of the alarms a target-tracking scaling policy creates (AWS: 3 to scale
    out, 15 to scale in)."""


@dataclass(frozen=True)
class MultiModelLimits:
    """Multi-model endpoints: each instance's memory budget for loaded models (None: the instance type's
    memory), how long a model may stay idle before it is unloaded (None: no limit), how often a loaded
    model's artifact is checked for a change, and the longest pause before a failed load is retried."""

    memory_budget_bytes: int | None = None
    idle_seconds: float | None = None
    revalidate_seconds: float = 1.0
    retry_max_seconds: float = 30.0


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
    job_workers: int = 4
    """How many training and processing jobs run at once (the rest queue); a tuning job's
    MaxParallelTrainingJobs may not exceed it."""
    edge: EdgeLimits = field(default_factory=EdgeLimits)
    capture: CaptureLimits = field(default_factory=CaptureLimits)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    multi_model: MultiModelLimits = field(default_factory=MultiModelLimits)
    ray_address: str | None = None
    """The Ray cluster that endpoint instances are placed on (``auto``: the local one); None: this machine,
    and nothing of Ray is imported."""
    ray_node_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "modelyard-ray")
    """On each Ray node, where its instances' artifacts, environments and logs live (``<dir>/<node id>``)."""
    sns_endpoint_url: str | None = None
    """Where asynchronous-inference notifications are published: ``AWS_ENDPOINT_URL_SNS``, else
    ``AWS_ENDPOINT_URL``; None refuses ``NotificationConfig``."""

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


class SettingError(ValueError):
    """A ``MODELYARD_*`` value that cannot be used; its message (one line) names the variable, the value
    and what is expected."""

    def __init__(self, variable: str, value: str, expected: str) -> None:
        super().__init__(f"{variable}={value[:200]!r} is not valid: {variable} must be {expected}")
        self.variable = variable
        self.value = value
        self.expected = expected


@dataclass(frozen=True)
class Kind:
    """How one variable's text becomes a value (``parse`` raises ValueError), and what it must look like."""

    expected: str
    parse: Callable[[str], Any]


def whole(minimum: int = 0, maximum: int | None = None) -> Kind:
    """A whole number in [minimum, maximum]."""
    bound = f" from {minimum} to {maximum}" if maximum is not None else f" of at least {minimum}"

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError(text)
        return value

    return Kind(f"a whole number{bound}", parse)


def number(minimum: float = 0.0, *, above: bool = True) -> Kind:
    """A finite number greater than ``minimum`` (``above``) or at least ``minimum``."""

    def parse(text: str) -> float:
        value = float(text)
        if not math.isfinite(value) or value < minimum or (above and value == minimum):
            raise ValueError(text)
        return value

    return Kind(f"a number {'greater than' if above else 'of at least'} {minimum:g}", parse)


def choice(options: tuple[str, ...]) -> Kind:
    """One of ``options`` (case-insensitive)."""

    def parse(text: str) -> str:
        lowered = text.lower()
        if lowered not in options:
            raise ValueError(text)
        return lowered

    return Kind(f"one of {', '.join(options)}", parse)


def _switch(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("on", "true", "1", "yes"):
        return True
    if lowered in ("off", "false", "0", "no"):
        return False
    raise ValueError(text)


def _account(text: str) -> str:
    if len(text) != 12 or not text.isdigit() or not text.isascii():
        raise ValueError(text)
    return text


def _file_roots(raw: str) -> tuple[Path, ...]:
    return tuple(Path(part).expanduser() for part in raw.split(os.pathsep) if part.strip())


TEXT = Kind("a non-empty text", str)
PATH = Kind("a path", lambda text: Path(text).expanduser())
PATHS = Kind(f"paths separated by {os.pathsep!r}", _file_roots)
SWITCH = Kind("on or off (also true/false, 1/0, yes/no)", _switch)
ACCOUNT = Kind("a 12-digit AWS account id", _account)
SECONDS = number(0.0)
BYTES = whole(1)
COUNT = whole(1)


def env_value(env: Mapping[str, str], variable: str, kind: Kind) -> Any:
    """The value of ``variable`` in ``env`` as ``kind`` says (None when unset or empty); a malformed
    value raises ``SettingError``."""
    raw = env.get(variable)
    if raw is None or not raw.strip():
        return None
    try:
        return kind.parse(raw.strip())
    except (ValueError, OverflowError):
        raise SettingError(variable, raw, kind.expected) from None


_ENV_FIELDS = {
    "MODELYARD_HOST": ("host", TEXT),
    "MODELYARD_PORT": ("port", whole(1, 65535)),
    "MODELYARD_DATA_DIR": ("data_dir", PATH),
    "MODELYARD_DATABASE_URL": ("database_url", TEXT),
    "MODELYARD_ACCOUNT_ID": ("account_id", ACCOUNT),
    "MODELYARD_DEFAULT_REGION": ("default_region", TEXT),
    "MODELYARD_AUTH": ("auth", SWITCH),
    "MODELYARD_SANDBOX": ("sandbox", SWITCH),
    "MODELYARD_FILE_URIS": ("file_uris", choice(FILE_URI_MODES)),
    "MODELYARD_FILE_ROOTS": ("file_roots", PATHS),
    "MODELYARD_RESTART_RESET_SECONDS": ("restart_reset_seconds", number(0.0, above=False)),
    "MODELYARD_JOB_WORKERS": ("job_workers", COUNT),
    "MODELYARD_RAY_ADDRESS": ("ray_address", TEXT),
    "MODELYARD_RAY_NODE_DIR": ("ray_node_dir", PATH),
}

_LIMIT_ENV = {
    "MODELYARD_INVOKE_TIMEOUT_SECONDS": ("invoke_timeout_seconds", SECONDS),
    "MODELYARD_INVOKE_MAX_BYTES": ("invoke_body_bytes", BYTES),
    "MODELYARD_HEALTH_CHECK_TIMEOUT_SECONDS": ("health_check_timeout_seconds", SECONDS),
    "MODELYARD_CONTROL_MAX_BYTES": ("control_body_bytes", BYTES),
    "MODELYARD_SERVERLESS_IDLE_SECONDS": ("serverless_idle_seconds", SECONDS),
    "MODELYARD_SERVERLESS_MAX_INSTANCES": ("serverless_max_instances", COUNT),
}

_DATA_LIMIT_ENV = {
    "MODELYARD_COPY_MAX_BYTES": ("copy_max_bytes", BYTES),
    "MODELYARD_COPY_MAX_FILES": ("copy_max_files", COUNT),
    "MODELYARD_TAR_MAX_RATIO": ("tar_max_ratio", number(1.0, above=False)),
    "MODELYARD_TAR_RATIO_FLOOR_BYTES": ("tar_ratio_floor_bytes", whole(0)),
    "MODELYARD_ARTIFACT_CACHE_BYTES": ("artifact_cache_bytes", whole(0)),
}

_EDGE_ENV = {
    "MODELYARD_HEADER_TIMEOUT_SECONDS": ("header_timeout_seconds", SECONDS),
    "MODELYARD_BODY_TIMEOUT_SECONDS": ("body_timeout_seconds", SECONDS),
    "MODELYARD_KEEP_ALIVE_TIMEOUT_SECONDS": ("keep_alive_timeout_seconds", SECONDS),
    "MODELYARD_MAX_HEADER_BYTES": ("max_header_bytes", BYTES),
    "MODELYARD_MAX_CONNECTIONS": ("max_connections", COUNT),
    "MODELYARD_MAX_CONNECTIONS_PER_CLIENT": ("max_connections_per_client", COUNT),
    "MODELYARD_CONTROL_CONCURRENCY": ("control_concurrency", COUNT),
    "MODELYARD_CONTROL_QUEUE": ("control_queue", whole(0)),
    "MODELYARD_DECODE_OFFLOAD_BYTES": ("decode_offload_bytes", whole(0)),
    "MODELYARD_DECODE_WORKERS": ("decode_workers", whole(0)),
}

_CAPTURE_ENV = {
    "MODELYARD_CAPTURE_QUEUE_RECORDS": ("queue_records", COUNT),
    "MODELYARD_CAPTURE_QUEUE_BYTES": ("queue_bytes", BYTES),
    "MODELYARD_CAPTURE_ROTATE_SECONDS": ("rotate_seconds", SECONDS),
    "MODELYARD_CAPTURE_ROTATE_BYTES": ("rotate_bytes", BYTES),
    "MODELYARD_CAPTURE_MIN_FREE_BYTES": ("min_free_bytes", whole(0)),
}

_METRICS_ENV = {
    "MODELYARD_METRICS_FLUSH_SECONDS": ("flush_seconds", number(0.0)),
    "MODELYARD_METRICS_RETENTION_DAYS": ("retention_days", number(0.0)),
    "MODELYARD_ALARM_INTERVAL_SECONDS": ("alarm_interval_seconds", number(0.0)),
    "MODELYARD_INSTANCE_METRICS_SECONDS": ("instance_sample_seconds", number(0.0)),
    "MODELYARD_METRICS_OPEN_SCRAPE": ("open_scrape", SWITCH),
    "MODELYARD_ENDPOINT_METRICS": ("endpoint_metrics", SWITCH),
    "MODELYARD_TARGET_TRACKING_OUT_PERIODS": ("target_tracking_out_periods", COUNT),
    "MODELYARD_TARGET_TRACKING_IN_PERIODS": ("target_tracking_in_periods", COUNT),
}

_MULTI_MODEL_ENV = {
    "MODELYARD_MME_MEMORY_BUDGET_BYTES": ("memory_budget_bytes", BYTES),
    "MODELYARD_MME_IDLE_SECONDS": ("idle_seconds", SECONDS),
    "MODELYARD_MME_REVALIDATE_SECONDS": ("revalidate_seconds", number(0.0, above=False)),
    "MODELYARD_MME_RETRY_MAX_SECONDS": ("retry_max_seconds", number(0.0, above=False)),
}

# Read where they are used (``runtime.limits``), checked here so that a bad value stops the server at
# start rather than failing a deployment later.
CHECKED_AT_START = {
    "MODELYARD_MEMORY_LIMIT_MB": whole(1),
    "MODELYARD_DEFAULT_MEMORY_MB": whole(1),
    "MODELYARD_CPU_LIMIT": number(0.0),
    "MODELYARD_DISK_LIMIT_MB": whole(1),
    "MODELYARD_DEFAULT_DISK_GB": whole(1),
    "MODELYARD_DISK_FILE_LIMIT": whole(1),
    "MODELYARD_CGROUPS": choice(("auto", "v2", "v1", "off")),
}

_Group = TypeVar("_Group", bound=Any)


def _read(env: Mapping[str, str], table: Mapping[str, tuple[str, Kind]]) -> dict[str, Any]:
    values = {name: env_value(env, variable, kind) for variable, (name, kind) in table.items()}
    return {name: value for name, value in values.items() if value is not None}


def _overridden(defaults: _Group, table: Mapping[str, tuple[str, Kind]], env: Mapping[str, str]) -> _Group | None:
    """``defaults`` with the fields ``table`` maps from variables set in ``env``; None when none is set."""
    changes = _read(env, table)
    return replace(defaults, **changes) if changes else None


def settings_from_env(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from ``MODELYARD_*`` variables, then apply explicit overrides; a malformed
    variable raises ``SettingError``."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = _read(env, _ENV_FIELDS)
    for name, group in (("limits", _overridden(Limits(), _LIMIT_ENV, env)),
                        ("edge", _overridden(EdgeLimits(), _EDGE_ENV, env)),
                        ("data_limits", _overridden(DataLimits(), _DATA_LIMIT_ENV, env)),
                        ("capture", _overridden(CaptureLimits(), _CAPTURE_ENV, env)),
                        ("metrics", _overridden(MetricsSettings(), _METRICS_ENV, env)),
                        ("multi_model", _overridden(MultiModelLimits(), _MULTI_MODEL_ENV, env))):
        if group is not None:
            values[name] = group
    for variable, kind in CHECKED_AT_START.items():
        env_value(env, variable, kind)
    values["sns_endpoint_url"] = env.get("AWS_ENDPOINT_URL_SNS") or env.get("AWS_ENDPOINT_URL") or None
    known = {f.name for f in fields(Settings)}
    values.update({k: v for k, v in overrides.items() if v is not None and k in known})
    settings = Settings(**values)  # type: ignore[arg-type]
    return replace(settings, data_dir=Path(settings.data_dir).expanduser())
