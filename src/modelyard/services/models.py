"""Models: CreateModel, DescribeModel, ListModels, DeleteModel.

A model is one container (``PrimaryContainer``) or a list of up to 15 (``Containers``, run as a Serial
pipeline or addressed Direct by hostname). A container may name a registered model package instead
of an image; its inference specification is resolved at creation time::

    Containers=[{"ModelPackageName": "...:model-package/churn/3", "Environment": {"X": "1"}}]
        -> described back as given
        -> desired state ModelDesired(resolved_containers=[{"Image", "ModelDataUrl", "Environment" (merged), ...}])

The resolved containers are private (the store's ``desired`` column): hosting and batch transform read them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from modelyard.context import RequestContext
from modelyard.desired.models import ModelDesired
from modelyard.services.common import (
    arn_for,
    could_not_find,
    find,
    insert_tagged,
    list_page,
)
from modelyard.services.data_locations import check_locations, container_locations
from modelyard.services.dispatch import operation
from modelyard.services.image_checks import refuse_unrunnable_image
from modelyard.services.unsupported import refuse_unsupported
from modelyard.services.unsupported_hosting import CREATE_MODEL
from modelyard.store.errors import DuplicateKey
from modelyard.store.resources import delete_record, get_record
from modelyard.wire.errors import ValidationException

MODEL = "model"
MODEL_PACKAGE = "model-package"

# Members of a package container that a model container inherits.
_PACKAGE_CONTAINER_KEYS = ("ContainerHostname", "Image", "ModelDataUrl", "ModelDataSource",
                           "AdditionalModelDataSources", "Environment")
_PENDING = "PendingManualApproval"
_IMAGE_KEYS = ("Image", "ModelDataUrl", "ModelDataSource", "AdditionalModelDataSources")


def model_arn(ctx: RequestContext, name: str) -> str:
    """ARN of a model in the caller's account and region."""
    return arn_for(ctx, MODEL, name)


def find_model(conn: Connection, ctx: RequestContext, name: str) -> dict[str, Any]:
    """A model's stored document, or SageMaker's 'Could not find model' ValidationException."""
    record = get_record(conn, ctx.account, ctx.region, MODEL, name)
    if record is None:
        raise could_not_find("model", name)
    return record.document


def _requested_containers(request: dict[str, Any]) -> list[dict[str, Any]]:
    primary, containers = request.get("PrimaryContainer"), request.get("Containers")
    if primary is not None and containers:
        raise ValidationException(
            "Specify either PrimaryContainer or Containers, not both (use Containers for a "
            "multi-container model)")
    if primary is None and not containers:
        raise ValidationException("A model needs a container: specify PrimaryContainer or Containers")
    return [primary] if primary is not None else list(containers or [])


def _check_container(container: dict[str, Any], index: int) -> None:
    where = f"container {index}"
    has_package = "ModelPackageName" in container
    if has_package:
        clash = [key for key in _IMAGE_KEYS if key in container]
        if clash:
            raise ValidationException(
                f"{where} names ModelPackageName together with {', '.join(clash)}; a model package "
                "brings its own image and model data, so give only ModelPackageName (and Environment)")
    elif "Image" not in container:
        raise ValidationException(f"{where} needs an Image or a ModelPackageName")
    if "InferenceSpecificationName" in container and not has_package:
        raise ValidationException(f"{where}: InferenceSpecificationName requires ModelPackageName")
    if "ModelDataUrl" in container and "ModelDataSource" in container:
        raise ValidationException(f"{where}: specify ModelDataUrl or ModelDataSource, not both")
    _check_multi_model(container, where, has_package)


def _check_multi_model(container: dict[str, Any], where: str, has_package: bool) -> None:
    multi = container.get("Mode") == "MultiModel"
    if "MultiModelConfig" in container and not multi:
        raise ValidationException(f"{where}: MultiModelConfig applies to a multi-model container only; set Mode "
                                  "MultiModel or remove MultiModelConfig")
    if multi and not has_package and not (container.get("ModelDataUrl") or container.get("ModelDataSource")):
        raise ValidationException(f"{where}: a MultiModel container needs ModelDataUrl, the S3 prefix (or file:// "
                                  "directory) its model artifacts are stored under, ending with '/'")


def _check_execution(containers: list[dict[str, Any]], mode: str | None) -> None:
    for index, container in enumerate(containers, 1):
        _check_container(container, index)
    _check_pipeline(containers, mode)


def _check_pipeline(containers: list[dict[str, Any]], mode: str | None) -> None:
    """What a multi-container model must be, as given or once its model packages are resolved."""
    if len(containers) > 15:
        raise ValidationException(f"A model runs at most 15 containers; its containers (model packages "
                                  f"resolved) number {len(containers)}")
    if len(containers) > 1 and any(c.get("Mode") == "MultiModel" for c in containers):
        raise ValidationException("MultiModel mode is supported only for a model with a single container; host "
                                  "the multi-model container as a model (and endpoint) of its own")
    hostnames = [c["ContainerHostname"] for c in containers if c.get("ContainerHostname")]
    if len(set(hostnames)) != len(hostnames):
        raise ValidationException(f"ContainerHostname values must be unique within a model; got {hostnames}")
    if mode == "Direct":
        missing = [i for i, c in enumerate(containers, 1) if not c.get("ContainerHostname")]
        if missing:
            raise ValidationException(
                "InferenceExecutionConfig Mode Direct requires a ContainerHostname on every container; "
                f"container(s) {missing} have none")


def _package_spec(package: dict[str, Any], spec_name: str | None, reference: str) -> dict[str, Any]:
    if spec_name:
        extras: list[dict[str, Any]] = package.get("AdditionalInferenceSpecifications") or []
        for extra in extras:
            if extra.get("Name") == spec_name:
                return extra
        raise ValidationException(
            f'Model package "{reference}" has no additional inference specification named "{spec_name}"')
    spec: dict[str, Any] | None = package.get("InferenceSpecification")
    if not spec or not spec.get("Containers"):
        raise ValidationException(
            f'Model package "{reference}" has no InferenceSpecification, so no model can be created from it')
    return spec


def _check_approved(package: dict[str, Any], arn: str) -> None:
    """A versioned package serves only once approved (the sagemaker SDK approves it itself before
    CreateModel for that reason); an unversioned package has no approval status."""
    if not package.get("ModelPackageGroupName"):
        return
    status = package.get("ModelApprovalStatus", _PENDING)
    if status != "Approved":
        raise ValidationException(
            f'Model package "{arn}" is not approved (ModelApprovalStatus is {status}); a model can be '
            "created only from an Approved model package version. Approve it first: "
            f"UpdateModelPackage(ModelPackageArn=\"{arn}\", ModelApprovalStatus=\"Approved\")")


def _resolve_package(conn: Connection, ctx: RequestContext,
                     container: dict[str, Any]) -> list[dict[str, Any]]:
    reference = container["ModelPackageName"]
    record = find(conn, ctx, MODEL_PACKAGE, reference,
                  lambda name: could_not_find("model package", name))
    spec = _package_spec(record.document, container.get("InferenceSpecificationName"), reference)
    _check_approved(record.document, record.arn)
    resolved = []
    for source in spec["Containers"]:
        item = {key: source[key] for key in _PACKAGE_CONTAINER_KEYS if key in source}
        item["Environment"] = {**(source.get("Environment") or {}), **(container.get("Environment") or {})}
        if container.get("ContainerHostname"):
            item["ContainerHostname"] = container["ContainerHostname"]
        item["Mode"] = container.get("Mode") or "SingleModel"
        if "MultiModelConfig" in container:
            item["MultiModelConfig"] = container["MultiModelConfig"]
        item["ModelPackageName"] = record.arn
        resolved.append(item)
    return resolved


def _member_name(request: dict[str, Any], index: int) -> str:
    return "PrimaryContainer" if "PrimaryContainer" in request else f"Containers.{index + 1}"


def _described(container: dict[str, Any]) -> dict[str, Any]:
    shown = dict(container)
    shown.setdefault("Environment", {})
    if "Image" in shown:
        shown.setdefault("Mode", "SingleModel")
    return shown


def _resolve(conn: Connection, ctx: RequestContext, containers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    resolved: list[dict[str, Any]] = []
    for container in containers:
        if "ModelPackageName" in container:
            resolved.extend(_resolve_package(conn, ctx, container))
        else:
            resolved.append(_described(container))
    return resolved


def _document(ctx: RequestContext, request: dict[str, Any], arn: str) -> dict[str, Any]:
    document: dict[str, Any] = {"ModelName": request["ModelName"], "ModelArn": arn, "CreationTime": ctx.now}
    if "PrimaryContainer" in request:
        document["PrimaryContainer"] = _described(request["PrimaryContainer"])
    else:
        document["Containers"] = [_described(c) for c in request["Containers"]]
    for key in ("InferenceExecutionConfig", "ExecutionRoleArn", "VpcConfig"):
        if key in request:
            document[key] = request[key]
    document["EnableNetworkIsolation"] = bool(request.get("EnableNetworkIsolation", False))
    return document


@operation("sagemaker", "CreateModel")
def create_model(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Create a model; a duplicate name fails with SageMaker's 'Cannot create already existing model'."""
    name = request["ModelName"]
    containers = _requested_containers(request)
    _check_execution(containers, (request.get("InferenceExecutionConfig") or {}).get("Mode"))
    refuse_unsupported(request, CREATE_MODEL)
    arn = model_arn(ctx, name)
    try:
        with ctx.db.session(write=True) as conn:
            resolved = _resolve(conn, ctx, containers)
            if len(resolved) != len(containers):
                _check_pipeline(resolved, (request.get("InferenceExecutionConfig") or {}).get("Mode"))
            for index, container in enumerate(resolved):
                refuse_unrunnable_image(ctx, container.get("Image"), f"{_member_name(request, index)}.Image")
            check_locations(ctx, [member for index, container in enumerate(resolved)
                                  for member in container_locations(container, _member_name(request, index))])
            insert_tagged(conn, ctx, MODEL, name, arn, _document(ctx, request, arn), request.get("Tags"),
                          desired=ModelDesired(resolved).to_json())
    except DuplicateKey:
        raise ValidationException(f'Cannot create already existing model "{arn}".') from None
    return {"ModelArn": arn}


@operation("sagemaker", "DescribeModel")
def describe_model(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Describe a model."""
    with ctx.db.session() as conn:
        return find_model(conn, ctx, request["ModelName"])


@operation("sagemaker", "ListModels")
def list_models(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """List models with name and creation-time filters, newest first by default, keyset-paged."""
    records, token = list_page(ctx, request, MODEL)
    models = [{"ModelName": r.name, "ModelArn": r.arn, "CreationTime": r.created_at} for r in records]
    return {"Models": models, "NextToken": token}


@operation("sagemaker", "DeleteModel")
def delete_model(ctx: RequestContext, request: dict[str, Any]) -> None:
    """Delete a model (endpoint configurations that name it are left as they are, as in SageMaker)."""
    name = request["ModelName"]
    with ctx.db.session(write=True) as conn:
        record = get_record(conn, ctx.account, ctx.region, MODEL, name)
        if record is None:
            raise could_not_find("model", name)
        delete_record(conn, record)
