"""The routes of a config's shadow variant (``ShadowProductionVariants``).

SageMaker copies to the shadow the share of requests its weight stands for against the production
variant's: weight 0.5 beside a production weight of 1 copies half of the calls; equal or larger weights
copy every call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelyard.hosting.router import ShadowRoutes, VariantRoutes

if TYPE_CHECKING:
    from modelyard.controllers.endpoints.controller import Deployment


def shadow_sampling(shadow_weight: float, production_weight: float) -> float:
    """The share of calls copied to a shadow of ``shadow_weight`` (0..1)."""
    if production_weight <= 0:
        return 1.0 if shadow_weight > 0 else 0.0
    return max(0.0, min(1.0, shadow_weight / production_weight))


def shadow_routes(deployment: Deployment, routed: dict[str, VariantRoutes]) -> ShadowRoutes | None:
    """The deployment's shadow variant as the invoke path sees it (None without one)."""
    shadows = [v for v in deployment.variants.values() if v.plan.shadow]
    if not shadows:
        return None
    production = sum(v.plan.weight for v in deployment.variants.values() if not v.plan.shadow)
    shadow = shadows[0]
    return ShadowRoutes(routed[shadow.plan.name], shadow_sampling(shadow.plan.weight, production))
