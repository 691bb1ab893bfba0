"""What the endpoint controller does differently for a multi-model variant.

Deploying prepares only the variant's image and base environment (each model's artifact and
requirements are prepared when it is first invoked, by ``controllers.multimodel.host.ModelHost``),
and refuses a bring-your-own image that does not declare the multi-model container contract.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from modelyard.controllers.endpoints.plans import PlanError, VariantPlan
from modelyard.controllers.multimodel.contract import MULTI_MODEL_ENV, supports_multi_model
from modelyard.controllers.multimodel.host import HostSetup
from modelyard.controllers.preparation import PreparedContainer, Preparer
from modelyard.log_groups import endpoint_group
from modelyard.settings import MultiModelLimits


def prepare_base(preparer: Preparer, plan: VariantPlan, progress: Callable[[str], None]) -> PreparedContainer:
    """The variant's container without model data; a ``PlanError`` for what a multi-model variant cannot run."""
    container = plan.containers[0]
    if not container.model_data_url:
        raise PlanError(f"Model {plan.model_name} is a multi-model model without a ModelDataUrl: give the S3 "
                        "prefix (or file:// directory) its models are stored under")
    prepared = preparer.prepare(replace(container, model_data_url=None), progress=progress)
    if prepared.image.kind != "toolkit" and not (supports_multi_model(prepared.image.env)
                                                 or supports_multi_model(container.environment)):
        preparer.release(prepared)
        raise PlanError(f"Model {plan.model_name}: image {container.image} does not declare SageMaker's multi-model "
                        f"container contract; set {MULTI_MODEL_ENV}=true in its modelyard-image.json env (or in the "
                        "container's Environment) if it serves POST /models, or use Mode SingleModel")
    return prepared


def host_setup(account: str, region: str, endpoint: str, plan: VariantPlan, base: PreparedContainer,
               log_group_arn: str, limits: MultiModelLimits, health_timeout: float) -> HostSetup:
    """What every instance of the multi-model variant ``plan`` shares."""
    container = plan.containers[0]
    assert container.model_data_url is not None
    return HostSetup(account, region, endpoint, plan.name, base, container.model_data_url, plan.instance_type,
                     plan.volume_size_gb, plan.network_isolation, endpoint_group(endpoint), log_group_arn,
                     container.model_cache != "Disabled", limits, health_timeout)
