"""``modelyard server``: run the API server."""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import socket
import sys
from pathlib import Path

import click

from modelyard.settings import settings_from_env

SHUTDOWN_GRACE_MARGIN_SECONDS = 10.0
"""On SIGTERM, requests in flight get the invocation timeout plus this long to finish and be read; then
what is left is cancelled, so a client that never reads its answer cannot hold the server open."""


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
@click.option("--auth", type=click.Choice(["on", "off"]), default=None,
              help="Verify request signatures against modelyard's access keys [env MODELYARD_AUTH; default on]. "
                   "'off' accepts any credentials and only on a loopback --host.")
@click.option("--ray-address", default=None,
              help="Place endpoint instances on this Ray cluster ('auto': the one started on this machine) "
                   "[env MODELYARD_RAY_ADDRESS; default: run everything on this machine].")
@click.option("--ray-node-dir", type=click.Path(path_type=Path), default=None,
              help="On each Ray node, where instances' artifacts and environments live "
                   "[env MODELYARD_RAY_NODE_DIR; default <tmp>/modelyard-ray].")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def server(host: str | None, port: int | None, data_dir: Path | None, database_url: str | None,
           account_id: str | None, auth: str | None, ray_address: str | None, ray_node_dir: Path | None,
           log_level: str) -> None:
    """Run the modelyard server: the SageMaker, SageMaker Runtime and CloudWatch Logs APIs."""
    import uvicorn

    from modelyard.app import RAY_SCOPE, build_app
    from modelyard.controllers.ray.cluster import RayUnavailable
    from modelyard.edge.connections import connection_cap, guarded_protocol, raise_fd_limit
    from modelyard.edge.lean_invoke import LeanInvocations
    from modelyard.edge.pipeline import Pipeline
    from modelyard.runtime.errors import SandboxUnavailableError
    from modelyard.store.errors import StoreError

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_from_env(host=host, port=port, data_dir=data_dir, database_url=database_url,
                                     account_id=account_id, auth=None if auth is None else auth == "on",
                                     ray_address=ray_address, ray_node_dir=ray_node_dir)
    except ValueError as exc:
        click.echo(f"modelyard: {exc}", err=True)
        sys.exit(2)
    if not settings.auth and not is_loopback(settings.host):
        click.echo(f"modelyard: --auth off accepts any credentials, so it is refused on --host {settings.host}, "
                   "which is not a loopback address: anyone who reaches the port could run code on this machine. "
                   "Keep auth on (the default; `modelyard env` exports the admin key) or listen on 127.0.0.1.",
                   err=True)
        sys.exit(2)
    try:
        app = build_app(settings)
    except StoreError as exc:
        click.echo(f"modelyard: cannot open the metadata store: {exc}", err=True)
        sys.exit(2)
    except SandboxUnavailableError as exc:
        click.echo(f"modelyard: {exc}", err=True)
        sys.exit(2)
    except RayUnavailable as exc:
        click.echo(f"modelyard: {exc}", err=True)
        sys.exit(2)
    mode = "signatures verified" if settings.auth else "auth off: any credentials accepted"
    placement = (f"Ray cluster at {settings.ray_address}: {RAY_SCOPE}" if settings.ray_address
                 else "everything runs on this machine")
    click.echo(f"modelyard listening on http://{settings.host}:{settings.port} "
               f"(data dir {settings.data_dir}, account {settings.account_id}, {mode}; {placement})", err=True)
    edge = settings.edge
    cap = connection_cap(edge, raise_fd_limit())
    lean = LeanInvocations(app.handle) if isinstance(app.handle, Pipeline) else None
    grace = round(settings.limits.invoke_timeout_seconds + SHUTDOWN_GRACE_MARGIN_SECONDS)
    signal.signal(signal.SIGTERM, _stopped_by_signal)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level, access_log=False,
                    lifespan="on", loop="auto", http=guarded_protocol(edge, cap, lean), ws="none",
                    timeout_keep_alive=max(1, round(edge.keep_alive_timeout_seconds)), backlog=min(2048, cap),
                    timeout_graceful_shutdown=grace)
    except StoppedBySignal as stopped:
        end_by_signal(stopped.signum)


class StoppedBySignal(Exception):
    """uvicorn shut down gracefully on this signal and raised it again to end the process."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stopped_by_signal(signum: int, frame: object) -> None:
    raise StoppedBySignal(signum)


def end_by_signal(signum: int) -> None:
    """Remove the server's cgroups (ending by a signal skips ``atexit``), then end by ``signum`` as uvicorn
    meant to, so a supervisor sees the same exit status."""
    from modelyard.runtime.cgroups import remove_server_groups

    remove_server_groups()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address (127.0.0.0/8, ::1, localhost)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses)
