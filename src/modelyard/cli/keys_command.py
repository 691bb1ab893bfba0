"""``modelyard keys``: the access keys requests are signed with.

    modelyard keys create ci --account 111122223333 --allow 'sagemaker:InvokeEndpoint' --allow 'sagemaker:Describe*'
    modelyard keys list
    modelyard keys delete AKIA...

The command writes the metadata store directly, on the server's machine: it needs the server's data
dir (for the server secret that seals key secrets) and database, found like the server finds them
(``--data-dir`` / ``MODELYARD_DATA_DIR``, ``--database-url`` / ``MODELYARD_DATABASE_URL``). No admin
API exists, so there is nothing more on the network to protect; whoever can read the data dir can
read every secret anyway. A running server sees a new or deleted key within two seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from modelyard.cli.connection import CliError

if TYPE_CHECKING:
    from modelyard.auth.keys import KeyStore


@contextmanager
def key_store(data_dir: Path | None, database_url: str | None) -> Iterator[KeyStore]:
    """The key store of the server's data dir and database."""
    from modelyard.auth.keys import KeyStore
    from modelyard.auth.secrets import SecretBox, load_server_secret
    from modelyard.settings import settings_from_env
    from modelyard.store.database import Database
    from modelyard.store.errors import StoreError

    try:
        settings = settings_from_env(data_dir=data_dir, database_url=database_url)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        db = Database.connect(settings.resolved_database_url)
    except StoreError as exc:
        raise CliError(f"cannot open the metadata store: {exc}") from None
    try:
        yield KeyStore(db, SecretBox(load_server_secret(settings.data_dir)))
    finally:
        db.dispose()


F = TypeVar("F", bound=Callable[..., Any])


def store_options(command: F) -> F:
    """``--data-dir`` and ``--database-url``, as the server takes them."""
    command = click.option("--database-url", default=None,
                           help="The server's database [env MODELYARD_DATABASE_URL; default SQLite in the data dir].")(
        command)
    return click.option("--data-dir", type=click.Path(path_type=Path), default=None,
                        help="The server's data dir [env MODELYARD_DATA_DIR; default ~/.modelyard].")(command)


@click.group()
def keys() -> None:
    """Create, list and delete access keys (run on the server's machine)."""


@keys.command("create")
@click.argument("name")
@click.option("--account", default=None, metavar="ACCOUNT_ID",
              help="The 12-digit account the key acts in [default: the server's account, $MODELYARD_ACCOUNT_ID "
                   "or 000000000000].")
@click.option("--allow", "allow", multiple=True, metavar="ACTION",
              help="Limit the key to matching actions (repeatable): sagemaker:InvokeEndpoint, sagemaker:Describe*, "
                   "logs:* … [default: every action].")
@store_options
def create(name: str, account: str | None, allow: tuple[str, ...], data_dir: Path | None,
           database_url: str | None) -> None:
    """Make a key and print it as JSON (the secret is shown only here)."""
    from modelyard.auth.policy import check_patterns
    from modelyard.settings import settings_from_env

    try:
        patterns = check_patterns(allow) if allow else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--allow") from None
    try:
        account = account or settings_from_env().account_id
    except ValueError as exc:
        raise CliError(str(exc)) from None
    with key_store(data_dir, database_url) as store:
        try:
            created = store.create(name, account, patterns)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    click.echo(json.dumps(created.document(), indent=2))


@keys.command("list")
@store_options
def list_keys(data_dir: Path | None, database_url: str | None) -> None:
    """Print every key as JSON, without secrets."""
    with key_store(data_dir, database_url) as store:
        click.echo(json.dumps([key.listing() for key in store.list()], indent=2))


@keys.command("delete")
@click.argument("access_key_id")
@store_options
def delete(access_key_id: str, data_dir: Path | None, database_url: str | None) -> None:
    """Delete a key: requests signed with it are refused from then on."""
    with key_store(data_dir, database_url) as store:
        if not store.delete(access_key_id):
            raise CliError(f"no access key {access_key_id}")
    click.echo(f"deleted {access_key_id}", err=True)
