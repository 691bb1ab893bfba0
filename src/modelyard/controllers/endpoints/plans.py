"""Deployment plans: what an endpoint should run, computed from its stored config and models."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from modelyard.desired.async_inference import AsyncInference
from modelyard.desired.endpoints import EndpointDesired
from modelyard.hosting.serverless import ServerlessShape
from modelyard.model_documents import model_containers
from modelyard.store.resources import Record, get_record


class PlanError(Exception):
    """The stored config cannot be deployed; the message is the endpoint's FailureReason."""


@dataclass(frozen=True)
class ContainerPlan:
    """One container of a model, as hosting needs it."""

    image: str
    model_data_url: str | None
    environment: dict[str, str] = field(default_factory=dict)
    hostname: str | None = None
    mode: str = "SingleModel"
    model_cache: str = "Enabled"
    """MultiModelConfig.ModelCacheSetting of a multi-model container."""


@dataclass(frozen=True)
class VariantPlan:
    """One production variant."""

    name: str
    model_name: str
    weight: float
    instance_count: int
    """Instances to run; for a serverless variant, those kept warm (ProvisionedConcurrency)."""
    instance_type: str | None
    containers: tuple[ContainerPlan, ...]
    network_isolation: bool
    volume_size_gb: int | None = None
    serverless: ServerlessShape | None = None
    shadow: bool = False
    """A shadow variant: it gets copies of calls (sampled by its weight), its answers are never returned."""
    execution_mode: str = "Serial"
    """A multi-container model's InferenceExecutionConfig.Mode: Serial (a pipeline) or Direct."""

    @property
    def fingerprint(self) -> str:
        """Identity of what the variant's instances run (not how many or how much traffic)."""
        memory = self.serverless.memory_mb if self.serverless else None
        payload = json.dumps([self.model_name, [c.__dict__ for c in self.containers], self.network_isolation,
                              memory], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _container(raw: dict[str, Any]) -> ContainerPlan:
    image = raw.get("Image")
    if not image:
        raise PlanError("A container of the model has no Image")
    data = raw.get("ModelDataUrl") or ((raw.get("ModelDataSource") or {}).get("S3DataSource") or {}).get("S3Uri")
    return ContainerPlan(image, data, dict(raw.get("Environment") or {}), raw.get("ContainerHostname"),
                         raw.get("Mode") or "SingleModel",
                         (raw.get("MultiModelConfig") or {}).get("ModelCacheSetting") or "Enabled")


def _serverless(config: dict[str, Any] | None, override: dict[str, float]) -> ServerlessShape | None:
    if not config:
        return None
    merged = {**config, **{k: v for k, v in override.items() if k in ("MaxConcurrency", "ProvisionedConcurrency")}}
    return ServerlessShape(int(merged["MemorySizeInMB"]), int(merged["MaxConcurrency"]),
                           int(merged.get("ProvisionedConcurrency") or 0))


def plan_variants(conn: Connection, endpoint: Record, desired: EndpointDesired) -> list[VariantPlan]:
    """Variant plans for ``endpoint`` under the desired config, with weight/count overrides applied."""
    config_name, overrides = desired.config, desired.weights
    config = get_record(conn, endpoint.account, endpoint.region, "endpoint-config", config_name)
    if config is None:
        raise PlanError(f'Could not find endpoint configuration "{config_name}".')
    plans = []
    shadows = [(v, True) for v in config.document.get("ShadowProductionVariants") or []]
    for variant, shadow in [(v, False) for v in config.document.get("ProductionVariants", [])] + shadows:
        model = get_record(conn, endpoint.account, endpoint.region, "model", variant["ModelName"])
        if model is None:
            raise PlanError(f'Could not find model "{variant["ModelName"]}" of variant {variant["VariantName"]}.')
        containers = tuple(_container(c) for c in model_containers(model))
        if not containers:
            raise PlanError(f"Model {model.name} has no container to run")
        override = overrides.get(variant["VariantName"], {})
        serverless = _serverless(variant.get("ServerlessConfig"), override)
        count = serverless.provisioned if serverless else int(
            override.get("DesiredInstanceCount", variant["InitialInstanceCount"]))
        plans.append(VariantPlan(
            name=variant["VariantName"], model_name=model.name,
            weight=float(override.get("DesiredWeight", variant.get("InitialVariantWeight", 1.0))),
            instance_count=count, instance_type=variant.get("InstanceType"), containers=containers,
            network_isolation=bool(model.document.get("EnableNetworkIsolation")),
            volume_size_gb=variant.get("VolumeSizeInGB"), serverless=serverless, shadow=shadow,
            execution_mode=(model.document.get("InferenceExecutionConfig") or {}).get("Mode") or "Serial"))
    if not plans:
        raise PlanError(f"Endpoint configuration {config_name} has no production variant")
    return plans


def endpoint_capture(conn: Connection, endpoint: Record, desired: EndpointDesired) -> dict[str, Any] | None:
    """The desired config's stored ``DataCaptureConfig`` (None when it has none)."""
    config = get_record(conn, endpoint.account, endpoint.region, "endpoint-config", desired.config)
    if config is None:
        raise PlanError(f'Could not find endpoint configuration "{desired.config}".')
    capture = config.document.get("DataCaptureConfig")
    return dict(capture) if capture else None


def endpoint_async(conn: Connection, endpoint: Record, desired: EndpointDesired) -> AsyncInference | None:
    """The desired config's ``AsyncInferenceConfig`` (None for a real-time endpoint)."""
    config = get_record(conn, endpoint.account, endpoint.region, "endpoint-config", desired.config)
    if config is None:
        raise PlanError(f'Could not find endpoint configuration "{desired.config}".')
    return AsyncInference.from_document(config.document.get("AsyncInferenceConfig"))
