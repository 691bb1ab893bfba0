"""Printing for the CLI: Rich tables for people, JSON for scripts.

Results go to stdout; progress, notes and errors go to stderr, so ``--json`` output stays parseable.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of text.")


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON to stdout (datetimes as ISO 8601)."""
    click.echo(json.dumps(data, indent=2, default=_plain, sort_keys=False))


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], empty: str) -> None:
    """A Rich table on stdout, or the ``empty`` message on stderr when there are no rows."""
    if not rows:
        err.print(f"[dim]{empty}[/dim]")
        return
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(cell(value) for value in row))
    out.print(table)


def cell(value: Any) -> str:
    """A table cell: times shortened to local minutes, None as a dash."""
    if value is None or value == "":
        return "-"
    if isinstance(value, dt.datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def status_style(status: str | None) -> str:
    """A status word coloured by how it went."""
    colour = {"InService": "green", "Completed": "green", "Approved": "green", "Failed": "red",
              "Rejected": "red", "Stopped": "yellow", "Deleting": "yellow"}.get(status or "", "cyan")
    return f"[{colour}]{status or '-'}[/{colour}]"


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot serialize {type(value).__name__}")
