"""How CLI commands reach the server: boto3 clients, shared options, friendly errors.

    --endpoint-url > $AWS_ENDPOINT_URL > $MODELYARD_URL > http://127.0.0.1:8080
    --region       > $AWS_DEFAULT_REGION / $AWS_REGION / profile > us-east-1

Credentials come from the standard AWS settings; when there are none, the server's admin key
(``<data dir>/admin-key.json``, made on the server's first start) is used, else placeholders (for a
server run with ``--auth off``), so a fresh machine needs no AWS setup at all.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_REGION = "us-east-1"
PLACEHOLDER_KEY = "modelyard"
F = TypeVar("F", bound=Callable[..., Any])


def default_url(environ: Mapping[str, str] | None = None) -> str:
    """The server URL from the environment (AWS_ENDPOINT_URL, then MODELYARD_URL), else the default."""
    env = os.environ if environ is None else environ
    return env.get("AWS_ENDPOINT_URL") or env.get("MODELYARD_URL") or DEFAULT_URL


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The data dir the server uses by default: $MODELYARD_DATA_DIR or ~/.modelyard."""
    env = os.environ if environ is None else environ
    return Path(env.get("MODELYARD_DATA_DIR") or Path.home() / ".modelyard").expanduser()


ADMIN_KEY_FILE = "admin-key.json"


def admin_key(data_dir: Path | None = None) -> tuple[str, str] | None:
    """The access key id and secret of the admin key in the server's data dir, when readable."""
    path = (data_dir or default_data_dir()) / ADMIN_KEY_FILE
    try:
        document = json.loads(path.read_text())
        return str(document["AccessKeyId"]), str(document["SecretAccessKey"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def local_credentials(data_dir: Path | None = None) -> tuple[str, str]:
    """The admin key of the local server, else placeholder credentials."""
    return admin_key(data_dir) or (PLACEHOLDER_KEY, PLACEHOLDER_KEY)


@dataclass
class Connection:
    """One server address and region; makes (and reuses) boto3 clients for it."""

    endpoint_url: str
    region: str | None = None
    _session: Any = field(default=None, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def session(self) -> Any:
        """The boto3 session (placeholder credentials when the environment has none)."""
        if self._session is None:
            import boto3

            session = boto3.Session(region_name=self.region)
            region = session.region_name or DEFAULT_REGION
            if session.get_credentials() is None:
                key_id, secret = local_credentials()
                session = boto3.Session(region_name=region, aws_access_key_id=key_id, aws_secret_access_key=secret)
            elif session.region_name is None:
                session = boto3.Session(region_name=region)
            self._session = session
        return self._session

    @property
    def region_name(self) -> str:
        """The region requests are signed for."""
        return str(self.session.region_name)

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` (``sagemaker``, ``sagemaker-runtime``, ``logs``) on the server."""
        if service not in self._clients:
            from botocore.config import Config

            config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5,
                            read_timeout=120)
            self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url,
                                                         config=config)
        return self._clients[service]

    @property
    def sagemaker(self) -> Any:
        """The SageMaker control-plane client."""
        return self.client("sagemaker")


def connection_options(command: F) -> F:
    """Add ``--endpoint-url`` and ``--region`` and pass a :class:`Connection` as ``conn``."""

    @click.option("--region", default=None, envvar=None,
                  help="Region to sign requests for [default: AWS_DEFAULT_REGION or us-east-1].")
    @click.option("--endpoint-url", default=None, metavar="URL",
                  help=f"The modelyard server [default: $AWS_ENDPOINT_URL, $MODELYARD_URL or {DEFAULT_URL}].")
    @functools.wraps(command)
    def wrapper(*args: Any, endpoint_url: str | None, region: str | None, **kwargs: Any) -> Any:
        conn = Connection(endpoint_url or default_url(), region)
        with reported_errors(conn):
            return command(*args, conn=conn, **kwargs)

    return wrapper  # type: ignore[return-value]


class CliError(click.ClickException):
    """A failure explained to the user (exit code 1)."""

    def show(self, file: Any = None) -> None:
        click.echo(f"modelyard: {self.format_message()}", err=True)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def error_message(exc: BaseException) -> str:
    """The AWS error message of a botocore ClientError (str(exc) for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Message", "")) or str(exc)
    return str(exc)


def not_found(exc: BaseException) -> bool:
    """True for SageMaker's "Could not find ..." answers (a missing model, config or endpoint)."""
    return error_code(exc) in ("ValidationException", "ResourceNotFound") and "could not find" in str(exc).lower()


@functools.lru_cache(maxsize=1)
def _botocore_errors() -> tuple[type[BaseException], type[BaseException]]:
    from botocore.exceptions import ClientError, EndpointConnectionError

    return ClientError, EndpointConnectionError


class reported_errors:  # noqa: N801 - used like a function
    """Context manager turning botocore errors into one-line messages and exit codes."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None:
            return
        client_error, connection_error = _botocore_errors()
        if isinstance(exc, connection_error):
            click.echo(f"modelyard: cannot reach the server at {self.conn.endpoint_url}. Is `modelyard server` "
                       "running? (set --endpoint-url or AWS_ENDPOINT_URL if it listens elsewhere)", err=True)
            sys.exit(2)
        if isinstance(exc, client_error):
            click.echo(f"modelyard: {error_code(exc)}: {error_message(exc)}", err=True)
            sys.exit(1)


def pages(call: Callable[..., dict[str, Any]], key: str, token: str = "NextToken",
          **params: Any) -> Iterator[dict[str, Any]]:
    """Every item of a paginated List* call."""
    while True:
        response = call(**params)
        yield from response.get(key, [])
        next_token = response.get(token)
        if not next_token:
            return
        params[token] = next_token
