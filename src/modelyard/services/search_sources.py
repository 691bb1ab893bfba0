"""What Search can find: the resource types modelyard stores, and how each becomes a search record.

A search record has the botocore shape ``SearchRecord.<member>`` names for the type::

    TrainingJob        -> TrainingJob (DescribeTrainingJob's members + Tags)
    HyperParameterTuningJob -> HyperParameterTuningJob (DescribeHyperParameterTuningJob's members + Tags)
    Endpoint           -> Endpoint (DescribeEndpoint's members + Tags)
    ModelPackage(Group)-> ModelPackage(Group) (Describe* members + Tags)
    Model              -> ModelDashboardModel: {"Model": DescribeModel + Tags,
                          "Endpoints": [endpoints whose config serves it], "LastBatchTransformJob": ...}

Every other ``ResourceType`` (Experiment, Pipeline, ...) names something
modelyard does not store: its expression is still checked against its shape, and the answer is empty,
as AWS answers for an account without such resources.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from modelyard.services.endpoints import ENDPOINT, ENDPOINT_CONFIG
from modelyard.services.models import MODEL
from modelyard.services.registry.names import GROUP, PACKAGE
from modelyard.services.training_jobs import KIND as TRAINING_JOB
from modelyard.services.transform_jobs import TRANSFORM_JOB
from modelyard.services.tuning_jobs import KIND as TUNING_JOB
from modelyard.store.resources import Record
from modelyard.store.search_scan import Scan, scan_records

Links = Callable[[Connection, str, str, list[Record]], dict[int, dict[str, Any]]]
"""Members of a record that come from other resources, by record id."""


@dataclass(frozen=True)
class Searchable:
    """How one stored ``Resource`` maps onto the store and the wire."""

    kind: str
    record_shape: str
    default_sort: str
    name_property: str | None = None
    """A property equal to the row's name: an exact filter on it reads one row."""
    parent_property: str | None = None
    status_property: str | None = None
    root: tuple[str, ...] = ()
    """Where the stored document sits inside the record."""
    links: Links | None = None

    @property
    def tags_property(self) -> str:
        """The property name of the record's tags (``Tags`` or ``Model.Tags``)."""
        return ".".join((*self.root, "Tags"))


def _endpoint_summary(document: dict[str, Any]) -> dict[str, Any]:
    keys = ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus")
    return {key: document[key] for key in keys if key in document}


def _served_models(config: Record | None) -> set[str]:
    if config is None:
        return set()
    variants = [*(config.document.get("ProductionVariants") or []),
                *(config.document.get("ShadowProductionVariants") or [])]
    return {variant["ModelName"] for variant in variants if variant.get("ModelName")}


def _model_links(conn: Connection, account: str, region: str, models: list[Record]) -> dict[int, dict[str, Any]]:
    names = {record.name: record.id for record in models}
    links: dict[int, dict[str, Any]] = {record.id: {} for record in models}
    configs = {r.name: r for r in scan_records(conn, Scan(account, region, ENDPOINT_CONFIG))}
    for endpoint in scan_records(conn, Scan(account, region, ENDPOINT)):
        for model in _served_models(configs.get(endpoint.document.get("EndpointConfigName", ""))):
            if model in names:
                links[names[model]].setdefault("Endpoints", []).append(_endpoint_summary(endpoint.document))
    for job in scan_records(conn, Scan(account, region, TRANSFORM_JOB)):
        model_id = names.get(job.document.get("ModelName", ""))
        if model_id is not None:
            links[model_id]["LastBatchTransformJob"] = job.document
    return links


SEARCHABLE = {
    "ModelPackageGroup": Searchable(GROUP, "ModelPackageGroup", "CreationTime",
                                    name_property="ModelPackageGroupName"),
    "ModelPackage": Searchable(PACKAGE, "ModelPackage", "LastModifiedTime",
                               parent_property="ModelPackageGroupName"),
    "TrainingJob": Searchable(TRAINING_JOB, "TrainingJob", "LastModifiedTime", name_property="TrainingJobName",
                              status_property="TrainingJobStatus"),
    "Endpoint": Searchable(ENDPOINT, "Endpoint", "LastModifiedTime", name_property="EndpointName",
                           status_property="EndpointStatus"),
    "HyperParameterTuningJob": Searchable(TUNING_JOB, "HyperParameterTuningJob", "LastModifiedTime",
                                          name_property="HyperParameterTuningJobName",
                                          status_property="HyperParameterTuningJobStatus"),
    "Model": Searchable(MODEL, "ModelDashboardModel", "Model.CreationTime", name_property="Model.ModelName",
                        root=("Model",), links=_model_links),
}

RECORD_MEMBERS = {"ExperimentTrial": "Trial", "ExperimentTrialComponent": "TrialComponent"}
"""``ResourceType`` values whose ``SearchRecord`` member is spelled differently."""


def record_member(resource: str) -> str:
    """The ``SearchRecord`` member that holds results of ``resource``."""
    return RECORD_MEMBERS.get(resource, resource)
