"""``modelyard`` command group."""

from __future__ import annotations

import click

from modelyard.cli.server_command import server


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modelyard")
def cli() -> None:
    """modelyard: SageMaker's API on your own machine, running your real models and jobs."""


cli.add_command(server)


def main() -> None:
    """Console-script entry point."""
    cli()
