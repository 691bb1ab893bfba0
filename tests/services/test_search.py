"""Search black-box tests through boto3, over model package groups and model packages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.support.aws_errors import code, error_of, message

IMAGE_A = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
IMAGE_B = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"


def spec(*containers: tuple[str, str]) -> dict[str, Any]:
    return {
        "Containers": [{"Image": image, "ModelDataUrl": data} for image, data in containers],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }


def flt(name: str, value: str | None = None, operator: str | None = None) -> dict[str, str]:
    item = {"Name": name}
    if value is not None:
        item["Value"] = value
    if operator is not None:
        item["Operator"] = operator
    return item


@pytest.fixture()
def registry(sm_any, unique):  # type: ignore[no-untyped-def]
    """A group with three versions: Approved, Rejected, PendingManualApproval."""
    sm = sm_any
    group_arn = sm.create_model_package_group(
        ModelPackageGroupName=unique,
        ModelPackageGroupDescription="churn models",
        Tags=[{"Key": "team", "Value": "risk"}],
    )["ModelPackageGroupArn"]
    versions = [
        dict(
            ModelApprovalStatus="Approved",
            ModelPackageDescription="First XGBoost model",
            InferenceSpecification=spec((IMAGE_A, "s3://bucket/one/model.tar.gz")),
            CustomerMetadataProperties={"framework": "xgboost", "score.auc": "0.91"},
        ),
        dict(
            ModelApprovalStatus="Rejected",
            ModelPackageDescription="second try",
            InferenceSpecification=spec(
                (IMAGE_A, "s3://bucket/two/a.tar.gz"), (IMAGE_B, "s3://bucket/two/b.tar.gz")
            ),
            CustomerMetadataProperties={"framework": "pipeline"},
        ),
        dict(InferenceSpecification=spec((IMAGE_B, "s3://bucket/three/model.tar.gz"))),
    ]
    arns = [sm.create_model_package(ModelPackageGroupName=unique, **v)["ModelPackageArn"] for v in versions]
    sm.add_tags(
        ResourceArn=arns[0], Tags=[{"Key": "stage", "Value": "prod"}, {"Key": "a.b", "Value": "dotted"}]
    )
    return {"sm": sm, "group": unique, "group_arn": group_arn, "arns": arns}


def packages(reg, *filters, operator: str | None = None, **params) -> list[int]:  # type: ignore[no-untyped-def]
    """Versions of the fixture's group matching ``filters`` (ANDed with the group name)."""
    expression: dict[str, Any] = {"Filters": list(filters)} if filters else {}
    if operator:
        expression["Operator"] = operator
    scoped = {"Filters": [flt("ModelPackageGroupName", reg["group"])]}
    if expression:
        scoped["SubExpressions"] = [expression]
    response = reg["sm"].search(
        Resource="ModelPackage",
        SearchExpression=scoped,
        **{"SortBy": "ModelPackageVersion", "SortOrder": "Ascending", **params},
    )
    return [r["ModelPackage"]["ModelPackageVersion"] for r in response["Results"]]


def test_sdk_group_lookup_by_name(registry):  # type: ignore[no-untyped-def]
    sm, group = registry["sm"], registry["group"]
    response = sm.search(
        Resource="ModelPackageGroup",
        SearchExpression={
            "Filters": [{"Name": "ModelPackageGroupName", "Value": group, "Operator": "Equals"}]
        },
    )
    assert len(response["Results"]) == 1
    found = response["Results"][0]["ModelPackageGroup"]
    assert found["ModelPackageGroupName"] == group
    assert found["ModelPackageGroupArn"] == registry["group_arn"]
    assert found["ModelPackageGroupDescription"] == "churn models"
    assert found["ModelPackageGroupStatus"] == "Completed"
    assert found["Tags"] == [{"Key": "team", "Value": "risk"}]
    assert isinstance(found["CreationTime"], dt.datetime)
    assert response["TotalHits"] == {"Value": 1, "Relation": "EqualTo"}
    missing = sm.search(
        Resource="ModelPackageGroup",
        SearchExpression={
            "Filters": [{"Name": "ModelPackageGroupName", "Value": group + "x", "Operator": "Equals"}]
        },
    )
    assert missing["Results"] == []


def test_package_records_carry_the_description_and_tags(registry):  # type: ignore[no-untyped-def]
    sm = registry["sm"]
    response = sm.search(
        Resource="ModelPackage", SearchExpression={"Filters": [flt("ModelPackageArn", registry["arns"][0])]}
    )
    record = response["Results"][0]["ModelPackage"]
    assert record["ModelPackageArn"] == registry["arns"][0]
    assert record["ModelPackageGroupName"] == registry["group"] and record["ModelPackageVersion"] == 1
    assert record["ModelApprovalStatus"] == "Approved"
    assert record["InferenceSpecification"]["Containers"][0]["Image"] == IMAGE_A
    assert sorted(t["Key"] for t in record["Tags"]) == ["a.b", "stage"]


def test_text_operators(registry):  # type: ignore[no-untyped-def]
    assert packages(registry, flt("ModelApprovalStatus", "Approved")) == [1]
    assert packages(registry, flt("ModelApprovalStatus", "Approved", "NotEquals")) == [2, 3]
    assert packages(registry, flt("ModelApprovalStatus", "Approved,Rejected", "In")) == [1, 2]
    assert packages(registry, flt("ModelPackageDescription", "xgboost", "Contains")) == [1]
    assert packages(registry, flt("ModelPackageDescription", None, "Exists")) == [1, 2]
    assert packages(registry, flt("ModelPackageDescription", None, "NotExists")) == [3]
    assert packages(registry, flt("ModelApprovalStatus", "approved")) == []


def test_number_and_timestamp_operators(registry):  # type: ignore[no-untyped-def]
    assert packages(registry, flt("ModelPackageVersion", "1", "GreaterThan")) == [2, 3]
    assert packages(registry, flt("ModelPackageVersion", "2", "GreaterThanOrEqualTo")) == [2, 3]
    assert packages(registry, flt("ModelPackageVersion", "2", "LessThan")) == [1]
    assert packages(registry, flt("ModelPackageVersion", "2.0", "LessThanOrEqualTo")) == [1, 2]
    assert packages(registry, flt("ModelPackageVersion", "3")) == [3]
    assert packages(registry, flt("ModelPackageVersion", "3", "NotEquals")) == [1, 2]
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert packages(registry, flt("CreationTime", past, "GreaterThan")) == [1, 2, 3]
    assert packages(registry, flt("CreationTime", future, "GreaterThan")) == []
    assert packages(registry, flt("CreationTime", future, "LessThanOrEqualTo")) == [1, 2, 3]


def test_maps_tags_and_nested_paths(registry):  # type: ignore[no-untyped-def]
    assert packages(registry, flt("Tags.stage", "prod")) == [1]
    assert packages(registry, flt("Tags.a.b", "dotted")) == [1]
    assert packages(registry, flt("Tags.stage", None, "NotExists")) == [2, 3]
    assert packages(registry, flt("CustomerMetadataProperties.framework", "pipeline")) == [2]
    assert packages(registry, flt("CustomerMetadataProperties.score.auc", "0.9", "Contains")) == [1]
    assert packages(registry, flt("CustomerMetadataProperties.framework", None, "Exists")) == [1, 2]
    assert packages(registry, flt("InferenceSpecification.Containers.Image", IMAGE_B)) == [2, 3]
    assert packages(registry, flt("InferenceSpecification.SupportedContentTypes", "text/csv")) == [1, 2, 3]


def test_nested_filters_match_one_element(registry):  # type: ignore[no-untyped-def]
    sm, group = registry["sm"], registry["group"]
    image_a_with_b_data = [
        flt("InferenceSpecification.Containers.Image", IMAGE_A),
        flt("InferenceSpecification.Containers.ModelDataUrl", "/b.tar.gz", "Contains"),
    ]

    def versions(expression: dict[str, Any]) -> list[int]:
        expression = {
            **expression,
            "Filters": [*expression.get("Filters", []), flt("ModelPackageGroupName", group)],
        }
        results = sm.search(
            Resource="ModelPackage",
            SearchExpression=expression,
            SortBy="ModelPackageVersion",
            SortOrder="Ascending",
        )["Results"]
        return [r["ModelPackage"]["ModelPackageVersion"] for r in results]

    assert versions({"Filters": image_a_with_b_data}) == [2]
    assert (
        versions(
            {
                "NestedFilters": [
                    {
                        "NestedPropertyName": "InferenceSpecification.Containers",
                        "Filters": image_a_with_b_data,
                    }
                ]
            }
        )
        == []
    )
    assert versions(
        {
            "NestedFilters": [
                {
                    "NestedPropertyName": "InferenceSpecification.Containers",
                    "Filters": [
                        flt("InferenceSpecification.Containers.Image", IMAGE_B),
                        flt("InferenceSpecification.Containers.ModelDataUrl", "/b.tar.gz", "Contains"),
                    ],
                }
            ]
        }
    ) == [2]


def test_sub_expressions_and_or(registry, unique):  # type: ignore[no-untyped-def]
    assert packages(
        registry, flt("ModelApprovalStatus", "Approved"), flt("ModelPackageVersion", "3"), operator="Or"
    ) == [1, 3]
    assert packages(registry, flt("ModelApprovalStatus", "Approved"), flt("ModelPackageVersion", "3")) == []
    sm = registry["sm"]
    sm.create_model_package_group(ModelPackageGroupName=f"{unique}-other")
    sm.create_model_package(
        ModelPackageGroupName=f"{unique}-other", InferenceSpecification=spec((IMAGE_A, "s3://b/m"))
    )
    either = {
        "Operator": "Or",
        "SubExpressions": [
            {"Filters": [flt("ModelPackageGroupName", unique), flt("ModelApprovalStatus", "Rejected")]},
            {"Filters": [flt("ModelPackageGroupName", f"{unique}-other")]},
        ],
    }
    results = sm.search(
        Resource="ModelPackage", SearchExpression=either, SortBy="ModelPackageArn", SortOrder="Ascending"
    )["Results"]
    assert [r["ModelPackage"]["ModelPackageArn"].split("/", 1)[1] for r in results] == [
        f"{unique}-other/1",
        f"{unique}/2",
    ]


def test_sorting_and_paging(registry):  # type: ignore[no-untyped-def]
    assert packages(registry, SortOrder="Descending") == [3, 2, 1]
    assert packages(registry, SortBy="CreationTime", SortOrder="Ascending") == [1, 2, 3]
    assert packages(registry, SortBy="ModelPackageDescription", SortOrder="Ascending") == [1, 2, 3]
    assert packages(registry, SortBy="ModelPackageDescription", SortOrder="Descending") == [2, 1, 3]
    sm, group = registry["sm"], registry["group"]
    expression = {"Filters": [flt("ModelPackageGroupName", group)]}
    default = sm.search(Resource="ModelPackage", SearchExpression=expression)["Results"]
    assert [r["ModelPackage"]["ModelPackageVersion"] for r in default] == [3, 2, 1]
    pages, token = [], None
    while True:
        response = sm.search(
            Resource="ModelPackage",
            SearchExpression=expression,
            MaxResults=2,
            SortBy="ModelPackageVersion",
            SortOrder="Ascending",
            **({"NextToken": token} if token else {}),
        )
        pages.append([r["ModelPackage"]["ModelPackageVersion"] for r in response["Results"]])
        assert response["TotalHits"]["Value"] == 3
        token = response.get("NextToken")
        if not token:
            break
    assert pages == [[1, 2], [3]]
    for bad in ("garbage", "WyJzZWFyY2giLCBmYWxzZSwgImEiLCAxXQ=="):
        err = error_of(sm.search, Resource="ModelPackage", SearchExpression=expression, NextToken=bad)
        assert code(err) == "ValidationException" and "Invalid pagination token" in message(err)


def test_group_search_without_expression_and_visibility(registry, unique):  # type: ignore[no-untyped-def]
    sm = registry["sm"]
    results = sm.search(Resource="ModelPackageGroup", MaxResults=100)["Results"]
    assert unique in [r["ModelPackageGroup"]["ModelPackageGroupName"] for r in results]
    visible = sm.search(
        Resource="ModelPackageGroup",
        VisibilityConditions=[{"Key": "Tags.team", "Value": "risk"}],
        SearchExpression={"Filters": [flt("ModelPackageGroupName", unique, "Contains")]},
    )
    assert [r["ModelPackageGroup"]["ModelPackageGroupName"] for r in visible["Results"]] == [unique]
    hidden = sm.search(
        Resource="ModelPackageGroup",
        VisibilityConditions=[{"Key": "Tags.team", "Value": "ops"}],
        SearchExpression={"Filters": [flt("ModelPackageGroupName", unique)]},
    )
    assert hidden["Results"] == []
    cross = sm.search(Resource="ModelPackageGroup", CrossAccountFilterOption="CrossAccount")
    assert cross["Results"] == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"SearchExpression": {"Filters": [flt("NoSuchProperty", "x")]}},
            "'NoSuchProperty' is not a searchable property of ModelPackage",
        ),
        (
            {"SearchExpression": {"Filters": [flt("InferenceSpecification.Containers.Nope", "x")]}},
            "not a searchable property",
        ),
        (
            {"SearchExpression": {"Filters": [flt("ModelApprovalStatus", "A", "GreaterThan")]}},
            "GreaterThan is not supported for text property ModelApprovalStatus",
        ),
        (
            {"SearchExpression": {"Filters": [flt("ModelPackageVersion", "1,2", "In")]}},
            "In is only supported for text properties",
        ),
        (
            {"SearchExpression": {"Filters": [flt("ModelPackageVersion", "one", "GreaterThan")]}},
            "is not a number",
        ),
        ({"SearchExpression": {"Filters": [flt("CreationTime", "yesterday", "LessThan")]}}, "ISO 8601"),
        ({"SearchExpression": {"Filters": [flt("ModelApprovalStatus", None, "Equals")]}}, "needs a Value"),
        (
            {
                "SearchExpression": {
                    "Filters": [
                        flt("ModelPackageDescription", "a", "Contains"),
                        flt("ModelApprovalStatus", "b", "Contains"),
                    ]
                }
            },
            "'CONTAINS' operator usage limit of 1 exceeded.",
        ),
        (
            {"SearchExpression": {"Filters": [flt("InferenceSpecification", "x")]}},
            "only Exists and NotExists",
        ),
        (
            {
                "SearchExpression": {
                    "NestedFilters": [
                        {
                            "NestedPropertyName": "InferenceSpecification.Containers",
                            "Filters": [flt("Image", IMAGE_A)],
                        }
                    ]
                }
            },
            "must start with",
        ),
        (
            {
                "SearchExpression": {
                    "NestedFilters": [
                        {
                            "NestedPropertyName": "ModelApprovalStatus",
                            "Filters": [flt("ModelApprovalStatus.x", "y")],
                        }
                    ]
                }
            },
            "must name a list of objects",
        ),
        (
            {"SearchExpression": {"Operator": "And"}},
            "at least one of Filters, NestedFilters or SubExpressions",
        ),
        ({"SortBy": "InferenceSpecification"}, "Cannot sort ModelPackage results by InferenceSpecification"),
        ({"SortBy": "Nope"}, "'Nope' is not a searchable property"),
    ],
)
def test_bad_searches(sm, params, expected):  # type: ignore[no-untyped-def]
    err = error_of(sm.search, **{"Resource": "ModelPackage", **params})
    assert code(err) == "ValidationException"
    assert expected in message(err)


def test_expression_size_limits(sm):  # type: ignore[no-untyped-def]
    def leaf(i: int) -> dict[str, Any]:
        return {"Filters": [flt("ModelPackageVersion", str(i))]}

    per_level = {
        "SubExpressions": [leaf(i) for i in range(15)],
        "Filters": [flt("ModelPackageVersion", "1")] * 6,
    }
    err = error_of(sm.search, Resource="ModelPackage", SearchExpression=per_level)
    assert code(err) == "ValidationException" and "at most 20 elements; got 21" in message(err)
    total = {
        "Operator": "Or",
        "SubExpressions": [
            {"Operator": "Or", "Filters": [flt("ModelPackageVersion", "1")] * 20} for _ in range(3)
        ],
    }
    err = error_of(sm.search, Resource="ModelPackage", SearchExpression=total)
    assert code(err) == "ValidationException" and "at most 50" in message(err)
    deep: dict[str, Any] = leaf(1)
    for _ in range(10):
        deep = {"SubExpressions": [deep]}
    assert sm.search(Resource="ModelPackage", SearchExpression=deep)["Results"] is not None
