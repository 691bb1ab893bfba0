"""botocore's service models, loaded once per service and shared."""

from __future__ import annotations

from functools import cache

import botocore.session
from botocore.model import OperationModel, ServiceModel


@cache
def service_model(service: str) -> ServiceModel:
    """The botocore service model of ``service`` (e.g. ``sagemaker``, ``sagemaker-runtime``, ``logs``)."""
    return botocore.session.get_session().get_service_model(service)


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
