"""``modelyard`` command group."""

from __future__ import annotations

import click

from modelyard.cli.delete_command import delete
from modelyard.cli.deploy_command import deploy
from modelyard.cli.env_command import env
from modelyard.cli.images_command import images
from modelyard.cli.invoke_command import invoke
from modelyard.cli.keys_command import keys
from modelyard.cli.list_commands import endpoints, jobs, models, packages
from modelyard.cli.logs_command import logs
from modelyard.cli.registry_commands import approve, reject
from modelyard.cli.server_command import server
from modelyard.cli.watch_command import watch


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="modelyard")
def cli() -> None:
    """modelyard: SageMaker's API on your own machine, running your real models and jobs.

    \b
    Start:      modelyard server
    Deploy:     modelyard deploy ./model_dir --name my-model
    Call it:    modelyard invoke my-model --body '{"instances": [[1, 2]]}'
    Watch it:   modelyard watch my-model
    SDK/boto3:  eval "$(modelyard env)"
    """


for _command in (server, deploy, invoke, watch, endpoints, models, packages, jobs, approve, reject, logs, delete,
                 env, images, keys):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli()
