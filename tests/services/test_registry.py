"""Model registry black-box tests through boto3, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import client_for
from tests.support.aws_errors import code, error_of, message

SPEC = {
    "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1",
                    "ModelDataUrl": "s3://bucket/model.tar.gz", "Environment": {"A": "1"}}],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}


def new_group(sm, name: str, **extra) -> str:  # type: ignore[no-untyped-def]
    return sm.create_model_package_group(ModelPackageGroupName=name, **extra)["ModelPackageGroupArn"]


def test_group_lifecycle(sm_any, unique):  # type: ignore[no-untyped-def]
    arn = new_group(sm_any, unique, ModelPackageGroupDescription="fraud models",
                    Tags=[{"Key": "team", "Value": "risk"}])
    assert arn == f"arn:aws:sagemaker:us-east-1:000000000000:model-package-group/{unique}"
    described = sm_any.describe_model_package_group(ModelPackageGroupName=unique)
    assert described["ModelPackageGroupDescription"] == "fraud models"
    assert described["ModelPackageGroupStatus"] == "Completed"
    assert sm_any.describe_model_package_group(ModelPackageGroupName=arn)["ModelPackageGroupArn"] == arn
    duplicate = error_of(sm_any.create_model_package_group, ModelPackageGroupName=unique)
    assert code(duplicate) == "ValidationException" and "already exists" in message(duplicate)
    sm_any.delete_model_package_group(ModelPackageGroupName=unique)
    missing = error_of(sm_any.describe_model_package_group, ModelPackageGroupName=unique)
    assert code(missing) == "ValidationException" and "Could not find" in message(missing)


def test_group_names_are_validated(sm):  # type: ignore[no-untyped-def]
    for bad in ("has space", "-leading", "x" * 64, "under_score"):  # "" is refused by botocore itself;
        # the server's answer to it is covered by tests/wire/test_server_errors.py
        err = error_of(sm.create_model_package_group, ModelPackageGroupName=bad)
        assert code(err) == "ValidationException"
        assert "modelPackageGroupName" in message(err)


def test_versions_increase_per_group_and_are_never_reused(sm_any, unique):  # type: ignore[no-untyped-def]
    new_group(sm_any, unique)
    new_group(sm_any, unique + "b")
    arns = [sm_any.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=SPEC)
            ["ModelPackageArn"] for _ in range(3)]
    assert [a.rsplit("/", 1)[1] for a in arns] == ["1", "2", "3"]
    other = sm_any.create_model_package(ModelPackageGroupName=unique + "b", InferenceSpecification=SPEC)
    assert other["ModelPackageArn"].endswith(f"/{unique}b/1")
    sm_any.delete_model_package(ModelPackageName=arns[2])
    fourth = sm_any.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=SPEC)
    assert fourth["ModelPackageArn"].endswith(f"/{unique}/4")
    assert "_LastVersion" not in sm_any.describe_model_package_group(ModelPackageGroupName=unique)


def test_describe_returns_everything_stored(sm_any, unique):  # type: ignore[no-untyped-def]
    new_group(sm_any, unique)
    metrics = {"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                               "S3Uri": "s3://bucket/metrics.json"}}}
    arn = sm_any.create_model_package(
        ModelPackageGroupName=unique, ModelPackageDescription="v1", InferenceSpecification=SPEC,
        ModelMetrics=metrics, MetadataProperties={"CommitId": "abc123", "Repository": "git@x"},
        CustomerMetadataProperties={"owner": "me"}, Domain="MACHINE_LEARNING", Task="CLASSIFICATION",
        SourceUri="s3://bucket/source", SamplePayloadUrl="s3://bucket/payload.tar.gz",
    )["ModelPackageArn"]
    got = sm_any.describe_model_package(ModelPackageName=arn)
    assert got["ModelPackageGroupName"] == unique and got["ModelPackageName"] == unique
    assert got["ModelPackageVersion"] == 1
    assert got["ModelApprovalStatus"] == "PendingManualApproval"
    assert got["ModelPackageStatus"] == "Completed"
    assert got["InferenceSpecification"] == SPEC
    assert got["ModelMetrics"] == metrics
    assert got["MetadataProperties"]["CommitId"] == "abc123"
    assert got["CustomerMetadataProperties"] == {"owner": "me"}
    assert (got["Domain"], got["Task"], got["SourceUri"]) == ("MACHINE_LEARNING", "CLASSIFICATION",
                                                              "s3://bucket/source")
    assert got["CreationTime"].timestamp() == pytest.approx(time.time(), abs=60)


def test_create_package_errors(sm, unique):  # type: ignore[no-untyped-def]
    err = error_of(sm.create_model_package, ModelPackageGroupName=unique + "missing", InferenceSpecification=SPEC)
    assert code(err) == "ValidationException" and "Could not find model package group" in message(err)
    err = error_of(sm.create_model_package, InferenceSpecification=SPEC)
    assert code(err) == "ValidationException" and "exactly one" in message(err)
    err = error_of(sm.create_model_package, ModelPackageName=unique, ModelApprovalStatus="Approved")
    assert code(err) == "ValidationException" and "versioned" in message(err)
    new_group(sm, unique)
    err = error_of(sm.create_model_package, ModelPackageGroupName=unique, ModelApprovalStatus="Maybe")
    assert code(err) == "ValidationException" and "enum value set" in message(err)
    err = error_of(sm.describe_model_package, ModelPackageName=f"{unique}/9")
    assert code(err) == "ValidationException" and "Could not find" in message(err)


def test_unversioned_packages_and_list_default_type(sm_any, unique):  # type: ignore[no-untyped-def]
    arn = sm_any.create_model_package(ModelPackageName=unique, InferenceSpecification=SPEC)["ModelPackageArn"]
    assert arn.endswith(f":model-package/{unique}")
    assert sm_any.describe_model_package(ModelPackageName=unique)["ModelPackageArn"] == arn
    err = error_of(sm_any.create_model_package, ModelPackageName=unique, InferenceSpecification=SPEC)
    assert code(err) == "ValidationException" and "already exists" in message(err)
    new_group(sm_any, unique + "g")
    sm_any.create_model_package(ModelPackageGroupName=unique + "g", InferenceSpecification=SPEC)
    default = sm_any.list_model_packages(NameContains=unique, MaxResults=100)["ModelPackageSummaryList"]
    assert [s["ModelPackageArn"] for s in default] == [arn]
    both = sm_any.list_model_packages(NameContains=unique, ModelPackageType="Both")["ModelPackageSummaryList"]
    assert len(both) == 2
    versioned = sm_any.list_model_packages(NameContains=unique, ModelPackageType="Versioned")
    assert [s["ModelPackageVersion"] for s in versioned["ModelPackageSummaryList"]] == [1]


def test_list_filters_sorting_and_paging(sm_any, unique):  # type: ignore[no-untyped-def]
    new_group(sm_any, unique)
    arns = [sm_any.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=SPEC)
            ["ModelPackageArn"] for _ in range(7)]
    sm_any.update_model_package(ModelPackageArn=arns[1], ModelApprovalStatus="Approved")
    sm_any.update_model_package(ModelPackageArn=arns[4], ModelApprovalStatus="Approved")
    sm_any.update_model_package(ModelPackageArn=arns[5], ModelApprovalStatus="Rejected")
    listed = sm_any.list_model_packages(ModelPackageGroupName=unique, MaxResults=100)["ModelPackageSummaryList"]
    assert [s["ModelPackageVersion"] for s in listed] == [1, 2, 3, 4, 5, 6, 7]
    approved = sm_any.list_model_packages(ModelPackageGroupName=unique, ModelApprovalStatus="Approved")
    assert [s["ModelPackageVersion"] for s in approved["ModelPackageSummaryList"]] == [2, 5]
    newest = sm_any.list_model_packages(ModelPackageGroupName=unique, SortOrder="Descending",
                                        ModelApprovalStatus="Approved", MaxResults=1)
    assert newest["ModelPackageSummaryList"][0]["ModelPackageArn"] == arns[4]
    seen, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        result = sm_any.list_model_packages(ModelPackageGroupName=unique, MaxResults=3, **kwargs)
        seen += [s["ModelPackageVersion"] for s in result["ModelPackageSummaryList"]]
        token = result.get("NextToken")
        if not token:
            break
    assert seen == [1, 2, 3, 4, 5, 6, 7]
    paginator = sm_any.get_paginator("list_model_packages")
    pages = paginator.paginate(ModelPackageGroupName=unique, SortOrder="Descending",
                               PaginationConfig={"PageSize": 2})
    assert [s["ModelPackageVersion"] for p in pages for s in p["ModelPackageSummaryList"]] == [7, 6, 5, 4, 3, 2, 1]
    future = sm_any.list_model_packages(ModelPackageGroupName=unique, CreationTimeAfter=time.time() + 3600)
    assert future["ModelPackageSummaryList"] == []
    err = error_of(sm_any.list_model_packages, ModelPackageGroupName=unique, NextToken="not-a-token")
    assert code(err) == "ValidationException"


def test_list_groups(sm_any, unique):  # type: ignore[no-untyped-def]
    for suffix in ("c", "a", "b"):
        new_group(sm_any, f"{unique}{suffix}")
    by_name = sm_any.list_model_package_groups(NameContains=unique, SortBy="Name")
    assert [g["ModelPackageGroupName"] for g in by_name["ModelPackageGroupSummaryList"]] == [
        f"{unique}a", f"{unique}b", f"{unique}c"]
    by_time = sm_any.list_model_package_groups(NameContains=unique, SortOrder="Descending")
    assert [g["ModelPackageGroupName"] for g in by_time["ModelPackageGroupSummaryList"]] == [
        f"{unique}b", f"{unique}a", f"{unique}c"]
    paged = sm_any.list_model_package_groups(NameContains=unique, MaxResults=2)
    rest = sm_any.list_model_package_groups(NameContains=unique, MaxResults=2, NextToken=paged["NextToken"])
    assert len(paged["ModelPackageGroupSummaryList"]) == 2 and len(rest["ModelPackageGroupSummaryList"]) == 1
    assert "NextToken" not in rest


def test_approval_transitions(sm_any, unique):  # type: ignore[no-untyped-def]
    new_group(sm_any, unique)
    arn = sm_any.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=SPEC)["ModelPackageArn"]
    sm_any.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="ok")
    got = sm_any.describe_model_package(ModelPackageName=arn)
    assert (got["ModelApprovalStatus"], got["ApprovalDescription"]) == ("Approved", "ok")
    sm_any.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    assert sm_any.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "Rejected"
    err = error_of(sm_any.update_model_package, ModelPackageArn=arn, ModelApprovalStatus="PendingManualApproval")
    assert code(err) == "ValidationException" and "back to PendingManualApproval" in message(err)
    assert sm_any.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "Rejected"
    err = error_of(sm_any.update_model_package, ModelPackageArn=arn + "0", ModelApprovalStatus="Approved")
    assert code(err) == "ValidationException" and "Could not find" in message(err)


def test_update_metadata_and_inference_spec(sm, unique):  # type: ignore[no-untyped-def]
    new_group(sm, unique)
    arn = sm.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=SPEC,
                                  CustomerMetadataProperties={"a": "1", "b": "2"})["ModelPackageArn"]
    sm.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"c": "3", "a": "9"},
                            CustomerMetadataPropertiesToRemove=["b"])
    assert sm.describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"] == {"a": "9", "c": "3"}
    err = error_of(sm.update_model_package, ModelPackageArn=arn, CustomerMetadataProperties={"x": "1"},
                   CustomerMetadataPropertiesToRemove=["x"])
    assert code(err) == "ValidationException"
    new_spec = {**SPEC, "SupportedContentTypes": ["application/json"]}
    sm.update_model_package(ModelPackageArn=arn, InferenceSpecification=new_spec)
    assert sm.describe_model_package(ModelPackageName=arn)["InferenceSpecification"] == new_spec
    extra = [{"Name": "gpu", "Containers": [{"Image": "img:gpu"}]}]
    sm.update_model_package(ModelPackageArn=arn, AdditionalInferenceSpecificationsToAdd=extra)
    assert sm.describe_model_package(ModelPackageName=arn)["AdditionalInferenceSpecifications"] == extra
    err = error_of(sm.update_model_package, ModelPackageArn=arn, AdditionalInferenceSpecificationsToAdd=extra)
    assert code(err) == "ValidationException" and "already exist" in message(err)


def test_delete_group_refused_while_it_holds_versions(sm_any, unique):  # type: ignore[no-untyped-def]
    new_group(sm_any, unique)
    arn = sm_any.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=SPEC)["ModelPackageArn"]
    err = error_of(sm_any.delete_model_package_group, ModelPackageGroupName=unique)
    assert code(err) == "ConflictException"
    assert sm_any.describe_model_package(ModelPackageName=arn)["ModelPackageArn"] == arn
    sm_any.delete_model_package(ModelPackageName=arn)
    sm_any.delete_model_package_group(ModelPackageGroupName=unique)
    err = error_of(sm_any.delete_model_package, ModelPackageName=arn)
    assert code(err) == "ValidationException"


def test_client_token_makes_create_idempotent(sm_any, unique):  # type: ignore[no-untyped-def]
    new_group(sm_any, unique)
    first = sm_any.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=SPEC,
                                        ClientToken=unique)["ModelPackageArn"]
    again = sm_any.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=SPEC,
                                        ClientToken=unique)["ModelPackageArn"]
    assert first == again
    other = sm_any.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=SPEC,
                                        ClientToken=unique + "x")["ModelPackageArn"]
    assert other.endswith("/2")
    listed = sm_any.list_model_packages(ModelPackageGroupName=unique)["ModelPackageSummaryList"]
    assert len(listed) == 2


def test_batch_describe(sm, unique):  # type: ignore[no-untyped-def]
    new_group(sm, unique)
    arns = [sm.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=SPEC)["ModelPackageArn"]
            for _ in range(2)]
    missing = arns[0][:-1] + "99"
    result = sm.batch_describe_model_package(ModelPackageArnList=[*arns, missing])
    assert set(result["ModelPackageSummaries"]) == set(arns)
    assert result["ModelPackageSummaries"][arns[1]]["ModelPackageVersion"] == 2
    assert result["ModelPackageSummaries"][arns[1]]["InferenceSpecification"] == SPEC
    assert result["BatchDescribeModelPackageErrorMap"][missing]["ErrorCode"] == "ValidationException"


def test_region_comes_from_the_signature(server, unique):  # type: ignore[no-untyped-def]
    west = client_for(server, "sagemaker", region="eu-west-1")
    arn = new_group(west, unique)
    assert arn.startswith("arn:aws:sagemaker:eu-west-1:000000000000:")
    east = client_for(server, "sagemaker", region="us-east-1")
    err = error_of(east.describe_model_package_group, ModelPackageGroupName=unique)
    assert code(err) == "ValidationException"


@pytest.mark.parametrize("threads,per_thread", [(8, 50)])
def test_concurrent_version_allocation(any_server, unique, threads, per_thread):  # type: ignore[no-untyped-def]
    clients = [client_for(any_server, "sagemaker") for _ in range(threads)]
    new_group(clients[0], unique)

    def register(client):  # type: ignore[no-untyped-def]
        return [int(client.create_model_package(ModelPackageGroupName=unique)["ModelPackageArn"].rsplit("/", 1)[1])
                for _ in range(per_thread)]

    with ThreadPoolExecutor(threads) as pool:
        versions = [v for batch in pool.map(register, clients) for v in batch]
    total = threads * per_thread
    assert sorted(versions) == list(range(1, total + 1))
    paginator = clients[0].get_paginator("list_model_packages")
    listed = [s["ModelPackageVersion"] for p in paginator.paginate(ModelPackageGroupName=unique,
                                                                   PaginationConfig={"PageSize": 100})
              for s in p["ModelPackageSummaryList"]]
    assert listed == list(range(1, total + 1))
