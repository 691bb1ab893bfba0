"""Imports every service module so that their operations register."""

from __future__ import annotations

import importlib

SERVICE_MODULES = (
    "modelyard.services.registry",
    "modelyard.services.models",
    "modelyard.services.endpoint_configs",
    "modelyard.services.tags",
    "modelyard.services.search",
    "modelyard.services.logs",
    "modelyard.services.endpoints",
    "modelyard.services.transform_jobs",
    "modelyard.services.training_jobs",
    "modelyard.services.processing_jobs",
    "modelyard.services.cloudwatch_metrics",
    "modelyard.services.cloudwatch_alarms",
    "modelyard.services.autoscaling",
    "modelyard.services.identity",
    "modelyard.services.tuning_jobs",
)


def load_services() -> None:
    """Import all service modules (idempotent); modules not written yet are skipped."""
    for name in SERVICE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
