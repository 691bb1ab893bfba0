"""``modelyard images``: register directories as container images (bring your own container).

Registrations are files under ``<data dir>/images`` that the server reads on every deploy, so a
running server sees them at once; this command edits them directly (they are not in the database).
"""

from __future__ import annotations

from pathlib import Path

import click

from modelyard.cli.connection import CliError, default_data_dir
from modelyard.cli.output import err, json_option, print_json, print_table
from modelyard.runtime.errors import RuntimeLayerError

data_dir_option = click.option(
    "--data-dir", type=click.Path(path_type=Path), default=None,
    help="The server's data dir [default: $MODELYARD_DATA_DIR or ~/.modelyard].")


def _registry(data_dir: Path | None):  # type: ignore[no-untyped-def]
    from modelyard.runtime.images import ImageRegistry

    return ImageRegistry((data_dir or default_data_dir()).expanduser() / "images")


@click.group()
def images() -> None:
    """Register, list and remove your own images (directories with serve/train programs)."""


@images.command("register")
@click.argument("uri")
@click.argument("directory", type=click.Path(path_type=Path))
@data_dir_option
@json_option
def register(uri: str, directory: Path, data_dir: Path | None, as_json: bool) -> None:
    """Register DIRECTORY as image URI (a copy is kept; register again after changes).

    DIRECTORY holds modelyard-image.json ({"serve": [...], "train": [...], "env": {...}}) or
    executables named serve/train, and optionally requirements.txt.
    """
    try:
        spec = _registry(data_dir).register(uri, directory)
    except RuntimeLayerError as exc:
        raise CliError(str(exc)) from None
    if as_json:
        print_json(_row(spec))
        return
    err.print(f"[green]✓[/green] registered [bold]{spec.uri}[/bold] from {directory}", highlight=False)


@images.command("list")
@data_dir_option
@json_option
def list_images(data_dir: Path | None, as_json: bool) -> None:
    """List registered images."""
    specs = _registry(data_dir).list()
    rows = [_row(spec) for spec in specs]
    if as_json:
        print_json(rows)
        return
    print_table("Registered images", ["uri", "serve", "train", "requirements"],
                [(r["uri"], r["serve"], r["train"], r["requirements"]) for r in rows],
                "no images registered: `modelyard images register <uri> <dir>`")


@images.command("unregister")
@click.argument("uri")
@data_dir_option
def unregister(uri: str, data_dir: Path | None) -> None:
    """Forget registered image URI."""
    try:
        _registry(data_dir).unregister(uri)
    except RuntimeLayerError as exc:
        raise CliError(str(exc)) from None
    err.print(f"[green]✓[/green] unregistered [bold]{uri}[/bold]", highlight=False)


def _row(spec) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"uri": spec.uri, "serve": " ".join(spec.serve_command), "train": " ".join(spec.train_command),
            "requirements": ", ".join(spec.packages), "directory": str(spec.directory)}
