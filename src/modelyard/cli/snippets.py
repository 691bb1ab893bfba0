"""Ready-to-paste snippets printed after a successful deploy."""

from __future__ import annotations

import os
from pathlib import Path

SAMPLE_NAMES = ("sample.json", "request.json", "sample.csv", "request.csv")
GENERIC_BODIES = {"application/json": '{"instances": [[1.0, 2.0]]}', "text/csv": "1.0,2.0"}


def find_sample(model_dir: Path) -> Path | None:
    """An example request shipped beside the model (``sample.json``, ``request.json`` ...), if any."""
    for folder in (model_dir, model_dir.parent):
        for name in SAMPLE_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def _shown(path: Path) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return relative if not relative.startswith("../..") else str(path)


def usage_snippet(name: str, endpoint_url: str, region: str, content_type: str, sample: Path | None = None) -> str:
    """How to call endpoint ``name``: the CLI line and a boto3 snippet."""
    if sample is not None:
        content_type = "text/csv" if sample.suffix == ".csv" else "application/json"
        cli_body = f"@{_shown(sample)}"
        py_body = f'open("{_shown(sample)}", "rb").read()'
    else:
        text = GENERIC_BODIES.get(content_type, "...")
        cli_body = f"'{text}'"
        py_body = repr(text)
    return f"""
Invoke it from the shell:

  modelyard invoke {name} --content-type {content_type} --body {cli_body}

or from Python with boto3 (after eval "$(modelyard env)", or with these arguments):

  import boto3
  runtime = boto3.client("sagemaker-runtime", endpoint_url="{endpoint_url}", region_name="{region}")
  response = runtime.invoke_endpoint(EndpointName="{name}", ContentType="{content_type}",
                                     Body={py_body})
  print(response["Body"].read().decode())

Logs: modelyard logs {name} --follow      Remove: modelyard delete {name}
"""
