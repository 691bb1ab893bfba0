"""The service models modelyard serves, loaded once per service and shared.

The models are vendored under ``service_models/<service>/<api-version>/service-2.json.gz`` (written by
``scripts/refresh_service_models.py``), so what the server speaks never changes with the installed
botocore; botocore supplies only the ``ServiceModel`` classes that interpret them.
"""

from __future__ import annotations

import gzip
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from botocore.model import OperationModel, ServiceModel

MODELS_DIR = Path(__file__).resolve().with_name("service_models")
MODEL_FILE = "service-2.json.gz"
SOURCE_FILE = "source.json"
SERVICE_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


class UnknownServiceModelError(LookupError):
    """No model is vendored for the service."""


def vendored_services() -> tuple[str, ...]:
    """Names of the services whose models are vendored, sorted."""
    return tuple(sorted(path.parent.parent.name for path in MODELS_DIR.glob(f"*/*/{MODEL_FILE}")))


def model_path(service: str) -> Path:
    """The vendored model file of ``service`` (its newest API version when several are present)."""
    paths = sorted(MODELS_DIR.glob(f"{service}/*/{MODEL_FILE}")) if SERVICE_NAME.fullmatch(service) else []
    if not paths:
        raise UnknownServiceModelError(
            f"no model vendored for {service!r}: run scripts/refresh_service_models.py {service}")
    return paths[-1]


def source() -> dict[str, Any]:
    """Where the vendored models came from (``{"botocore": "<version>"}``)."""
    data: dict[str, Any] = json.loads((MODELS_DIR / SOURCE_FILE).read_text())
    return data


@cache
def service_model(service: str) -> ServiceModel:
    """The vendored model of ``service`` (e.g. ``sagemaker``, ``sagemaker-runtime``, ``logs``)."""
    with gzip.open(model_path(service), "rt", encoding="utf-8") as stream:
        return ServiceModel(json.load(stream), service_name=service)


@cache
def operation_model(service: str, operation: str) -> OperationModel | None:
    """The operation model, or ``None`` when the service has no such operation."""
    model = service_model(service)
    if operation not in model.operation_names:
        return None
    return model.operation_model(operation)


@cache
def target_prefixes() -> dict[str, str]:
    """Map of JSON-protocol target prefix (``SageMaker``, ``Logs_20140328``) to service name."""
    return {service_model(name).metadata["targetPrefix"]: name for name in ("sagemaker", "logs")}
