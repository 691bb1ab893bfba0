"""``modelyard logs``: an endpoint's or a job's log lines, through the CloudWatch Logs API."""

from __future__ import annotations

import json
import time

import click

from modelyard.cli.connection import CliError, Connection, connection_options
from modelyard.cli.logtail import LogTail, find_sources
from modelyard.cli.output import out
from modelyard.log_groups import MODELYARD_PREFIX

JOB_DESCRIBE = {
    "training": ("describe_training_job", "TrainingJobName", "TrainingJobStatus"),
    "processing": ("describe_processing_job", "ProcessingJobName", "ProcessingJobStatus"),
    "transform": ("describe_transform_job", "TransformJobName", "TransformJobStatus"),
}
JOB_DONE = ("Completed", "Failed", "Stopped")


@click.command()
@click.argument("name")
@click.option("--follow", "-f", is_flag=True,
              help="Keep printing new lines (until Ctrl-C; for a job, until it has finished).")
@click.option("--tail", "tail_count", type=int, default=None, metavar="N", help="Only the last N lines first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON event per line (timestamp, stream, message).")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between polls with --follow.")
@connection_options
def logs(name: str, follow: bool, tail_count: int | None, as_json: bool, interval: float,
         conn: Connection) -> None:
    """Print the logs of endpoint or job NAME.

    Endpoints log to /aws/sagemaker/Endpoints/NAME (one stream per instance); training,
    processing and transform jobs to their family's group, streams NAME/... .
    """
    client = conn.client("logs")
    sources = find_sources(client, name)
    if not sources:
        raise CliError(f"no logs found for {name!r}: it is not an endpoint or job that has logged anything yet")
    readers = [LogTail(client, source) for source in sources]
    kind = sources[0].kind
    events = _poll(readers)
    if tail_count is not None:
        events = events[-tail_count:] if tail_count > 0 else []
    _print(events, as_json)
    if not follow:
        return
    try:
        while True:
            finished = kind != "endpoint" and _job_finished(conn, kind, name)
            time.sleep(interval)
            _print(_poll(readers), as_json)
            if finished:
                return
    except KeyboardInterrupt:
        return


def _poll(readers: list[LogTail]) -> list[dict]:  # type: ignore[type-arg]
    return sorted((e for reader in readers for e in reader.poll()), key=lambda e: e.get("timestamp", 0))


def _job_finished(conn: Connection, kind: str, name: str) -> bool:
    method, key, status_key = JOB_DESCRIBE[kind]
    try:
        status = getattr(conn.sagemaker, method)(**{key: name})[status_key]
    except Exception:
        return False
    return status in JOB_DONE


def _print(events: list[dict], as_json: bool) -> None:  # type: ignore[type-arg]
    for event in events:
        message = event["message"].rstrip("\n")
        stream = event.get("logStreamName", "")
        if str(event.get("logGroupName", "")).startswith(MODELYARD_PREFIX):
            stream = f"{stream}/deployment"
        if as_json:
            click.echo(json.dumps({"timestamp": event.get("timestamp"), "stream": stream,
                                   "message": message}))
        else:
            stamp = time.strftime("%H:%M:%S", time.localtime(event.get("timestamp", 0) / 1000))
            out.print(f"[dim]{stamp} {stream}[/dim] ", end="", highlight=False)
            out.out(message, highlight=False)
