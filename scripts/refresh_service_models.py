"""Vendor the installed botocore's models of the given services into src/modelyard/wire/service_models
and regenerate the coverage table.

    python scripts/refresh_service_models.py [SERVICE ...]   # e.g. sagemaker sagemaker-runtime logs s3

Without arguments it refreshes the services already vendored. Run it after bumping botocore in uv.lock.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import botocore
from botocore.exceptions import UnknownServiceError
from botocore.loaders import create_loader

from modelyard.wire.spec import MODEL_FILE, MODELS_DIR, SOURCE_FILE, vendored_services

SCRIPTS = Path(__file__).resolve().parent


def vendor(service: str) -> Path:
    """Write the installed botocore's newest model of ``service``; drop other vendored API versions."""
    loader = create_loader()
    version = loader.determine_latest_version(service, "service-2")
    model = loader.load_service_model(service, "service-2", version)
    shutil.rmtree(MODELS_DIR / service, ignore_errors=True)
    target = MODELS_DIR / service / version / MODEL_FILE
    target.parent.mkdir(parents=True)
    text = json.dumps(model, indent=1, sort_keys=True) + "\n"
    target.write_bytes(gzip.compress(text.encode(), mtime=0))
    return target


def main(argv: list[str]) -> int:
    """Vendor each named service (default: those vendored now), record the source, rebuild the table."""
    services = argv or list(vendored_services())
    if not services:
        print("name the services to vendor, e.g. sagemaker sagemaker-runtime logs", file=sys.stderr)
        return 2
    for service in services:
        try:
            print(f"vendored {vendor(service).relative_to(MODELS_DIR)}")
        except UnknownServiceError as error:
            print(error, file=sys.stderr)
            return 2
    (MODELS_DIR / SOURCE_FILE).write_text(json.dumps({"botocore": botocore.__version__}, indent=1) + "\n")
    return subprocess.call([sys.executable, str(SCRIPTS / "coverage_table.py")])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
