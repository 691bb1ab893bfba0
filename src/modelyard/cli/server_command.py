"""``modelyard server``: run the API server."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from modelyard.settings import settings_from_env


@click.command()
@click.option("--host", default=None, help="Address to listen on [env MODELYARD_HOST; default 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [env MODELYARD_PORT; default 8080].")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Where the database, artifacts, environments and logs live "
                   "[env MODELYARD_DATA_DIR; default ~/.modelyard].")
@click.option("--database-url", default=None,
              help="SQLAlchemy URL of the metadata store, e.g. postgresql://user@host/db "
                   "[env MODELYARD_DATABASE_URL; default SQLite in the data dir].")
@click.option("--account-id", default=None,
              help="Account id used in ARNs [env MODELYARD_ACCOUNT_ID; default 000000000000].")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def server(host: str | None, port: int | None, data_dir: Path | None, database_url: str | None,
           account_id: str | None, log_level: str) -> None:
    """Run the modelyard server: the SageMaker, SageMaker Runtime and CloudWatch Logs APIs."""
    import uvicorn

    from modelyard.app import build_app
    from modelyard.edge.connections import connection_cap, guarded_protocol, raise_fd_limit
    from modelyard.store.errors import StoreError

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_from_env(host=host, port=port, data_dir=data_dir, database_url=database_url,
                                 account_id=account_id)
    try:
        app = build_app(settings)
    except StoreError as exc:
        click.echo(f"modelyard: cannot open the metadata store: {exc}", err=True)
        sys.exit(2)
    click.echo(f"modelyard listening on http://{settings.host}:{settings.port} "
               f"(data dir {settings.data_dir}, account {settings.account_id})", err=True)
    edge = settings.edge
    cap = connection_cap(edge, raise_fd_limit())
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level, access_log=False,
                lifespan="on", loop="auto", http=guarded_protocol(edge, cap),
                timeout_keep_alive=max(1, round(edge.keep_alive_timeout_seconds)), backlog=min(2048, cap))
