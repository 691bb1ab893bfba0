"""``modelyard invoke``: send one request to an endpoint (SageMaker Runtime InvokeEndpoint)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from modelyard.cli.connection import CliError, Connection, connection_options, error_code, error_message
from modelyard.cli.output import err, print_json

CONTENT_TYPES = {".json": "application/json", ".csv": "text/csv", ".npy": "application/x-npy",
                 ".txt": "text/plain", ".jsonl": "application/jsonlines"}


def read_body(body: str) -> tuple[bytes, str | None]:
    """The request bytes and a content type guessed from a file name (``@file``, ``@-`` for stdin, else text)."""
    if body == "@-":
        return sys.stdin.buffer.read(), None
    if body.startswith("@"):
        path = Path(body[1:]).expanduser()
        try:
            return path.read_bytes(), CONTENT_TYPES.get(path.suffix.lower())
        except OSError as exc:
            raise CliError(f"cannot read the request body from {path}: {exc.strerror}") from None
    return body.encode(), None


@click.command()
@click.argument("name")
@click.option("--body", required=True, metavar="@FILE|TEXT",
              help="The request: literal text, @path/to/file, or @- for stdin.")
@click.option("--content-type", default=None,
              help="Content-Type of the request [default: from the file extension, else application/json].")
@click.option("--accept", default=None, help="Accept header: the response type you want.")
@click.option("--variant", default=None, help="Send to this production variant (TargetVariant).")
@click.option("--custom-attributes", default=None, help="X-Amzn-SageMaker-Custom-Attributes value.")
@click.option("--json", "as_json", is_flag=True,
              help="Print {ContentType, InvokedProductionVariant, Body} as JSON instead of the raw body.")
@connection_options
def invoke(name: str, body: str, content_type: str | None, accept: str | None, variant: str | None,
           custom_attributes: str | None, as_json: bool, conn: Connection) -> None:
    """Invoke endpoint NAME and print the response body to stdout.

    A model error (the handler raised, or answered an error status) is printed with the model's
    message and the log stream to look at, and the exit code is 1.
    """
    payload, guessed = read_body(body)
    params = {"EndpointName": name, "Body": payload, "ContentType": content_type or guessed or "application/json"}
    if accept:
        params["Accept"] = accept
    if variant:
        params["TargetVariant"] = variant
    if custom_attributes:
        params["CustomAttributes"] = custom_attributes
    try:
        response = conn.client("sagemaker-runtime").invoke_endpoint(**params)
    except Exception as exc:
        if error_code(exc) == "ModelError":
            _model_error(name, exc)
        raise
    data = response["Body"].read()
    if as_json:
        print_json({"ContentType": response.get("ContentType"),
                    "InvokedProductionVariant": response.get("InvokedProductionVariant"),
                    "Body": data.decode("utf-8", "replace")})
        return
    sys.stdout.buffer.write(data)
    if data and not data.endswith(b"\n") and sys.stdout.isatty():
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


def _model_error(name: str, exc: BaseException) -> None:
    response = getattr(exc, "response", {})
    err.print(f"[red]✗[/red] the model failed: {error_message(exc)}", highlight=False)
    stream = response.get("LogStreamArn") or response.get("Error", {}).get("LogStreamArn")
    if stream:
        err.print(f"  log stream: {stream}", highlight=False)
    err.print(f"  see `modelyard logs {name}`")
    sys.exit(1)
