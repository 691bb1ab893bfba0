"""Search(Resource="TrainingJob") over real training jobs: records, filters, nesting, sorting, paging."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.jobs_e2e.jobs_support import BUCKET, Stack, put, sourcedir, stack, training_request, wait_training
from tests.jobs_e2e.training_scripts import PROBE

METRICS = [{"Name": "train:loss", "Regex": r"train_loss=(.*?);"}, {"Name": "accuracy", "Regex": r"accuracy: ([0-9.]+)"}]


@pytest.fixture(scope="module")
def jobs() -> Stack:
    return stack()


@pytest.fixture(scope="module")
def trained(jobs: Stack) -> dict[str, Any]:
    """Three probe jobs: one epoch (Completed), three epochs (Completed, tagged), and a failure."""
    sm = jobs.client("sagemaker")
    prefix = f"srch{uuid.uuid4().hex[:8]}"
    source = put(jobs.s3(), f"code/{prefix}/sourcedir.tar.gz", sourcedir({"probe.py": PROBE}))
    plans = [("one", {"epochs": "1", "label": prefix}, []),
             ("three", {"epochs": "3", "label": prefix}, [{"Key": "team", "Value": "risk"}]),
             ("broken", {"mode": "raise", "label": prefix}, [{"Key": "team", "Value": "ops"}])]
    names = []
    for suffix, hyperparameters, tags in plans:
        name = f"{prefix}-{suffix}"
        request = training_request(name, program="probe.py", submit=source, output=f"s3://{BUCKET}/{prefix}",
                                   hyperparameters=hyperparameters, **({"Tags": tags} if tags else {}))
        request["AlgorithmSpecification"]["MetricDefinitions"] = METRICS
        sm.create_training_job(**request)
        names.append(name)
    described = {name: wait_training(sm, name) for name in names}
    assert [d["TrainingJobStatus"] for d in described.values()] == ["Completed", "Completed", "Failed"]
    return {"sm": sm, "prefix": prefix, "names": names, "described": described}


def found(trained: dict[str, Any], *filters: dict[str, Any], **params: Any) -> list[str]:
    """Suffixes of this module's jobs matching ``filters``, by name ascending unless told."""
    expression = {"Filters": [flt("HyperParameters.label", trained["prefix"]), *filters]}
    for key in ("NestedFilters", "SubExpressions", "Operator"):
        if key in params:
            expression[key] = params.pop(key)
    response = trained["sm"].search(Resource="TrainingJob", SearchExpression=expression,
                                    **{"SortBy": "TrainingJobName", "SortOrder": "Ascending", **params})
    return [r["TrainingJob"]["TrainingJobName"].rsplit("-", 1)[1] for r in response["Results"]]


def flt(name: str, value: str | None = None, operator: str = "Equals") -> dict[str, str]:
    return {"Name": name, "Operator": operator, **({"Value": value} if value is not None else {})}


def test_the_record_is_the_described_job_with_its_tags(trained):  # type: ignore[no-untyped-def]
    sm, name = trained["sm"], trained["names"][1]
    response = sm.search(Resource="TrainingJob", SearchExpression={"Filters": [flt("TrainingJobName", name)]})
    assert response["TotalHits"] == {"Value": 1, "Relation": "EqualTo"}
    record = response["Results"][0]["TrainingJob"]
    described = trained["described"][name]
    for key in ("TrainingJobArn", "TrainingJobStatus", "HyperParameters", "AlgorithmSpecification",
                "ModelArtifacts", "FinalMetricDataList", "CreationTime", "SecondaryStatusTransitions"):
        assert record[key] == described[key], key
    assert record["Tags"] == [{"Key": "team", "Value": "risk"}]


def test_the_sdk_lookup_by_model_artifact(trained):  # type: ignore[no-untyped-def]
    """What ``estimator.register()`` sends (sagemaker.model_card TrainingDetails)."""
    sm, name = trained["sm"], trained["names"][0]
    artifact = trained["described"][name]["ModelArtifacts"]["S3ModelArtifacts"]
    response = sm.search(Resource="TrainingJob", SearchExpression={"Filters": [
        {"Name": "ModelArtifacts.S3ModelArtifacts", "Operator": "Equals", "Value": artifact}]})
    assert [r["TrainingJob"]["TrainingJobName"] for r in response["Results"]] == [name]
    assert response["Results"][0]["TrainingJob"]["AlgorithmSpecification"]["TrainingImage"]


def test_filters_on_nested_properties(trained):  # type: ignore[no-untyped-def]
    assert found(trained, flt("HyperParameters.epochs", "3")) == ["three"]
    assert found(trained, flt("HyperParameters.mode", None, "Exists")) == ["broken"]
    assert found(trained, flt("TrainingJobStatus", "Completed")) == ["one", "three"]
    assert found(trained, flt("TrainingJobStatus", "Completed,Failed", "In")) == ["broken", "one", "three"]
    assert found(trained, flt("TrainingJobStatus", "Failed", "NotEquals")) == ["one", "three"]
    assert found(trained, flt("Tags.team", "risk")) == ["three"]
    assert found(trained, flt("Tags.team", None, "NotExists")) == ["one"]
    assert found(trained, flt("FailureReason", "bad input rows", "Contains")) == ["broken"]
    assert found(trained, flt("AlgorithmSpecification.TrainingImage", "modelyard/python:3.11")) == [
        "broken", "one", "three"]
    assert found(trained, flt("ResourceConfig.InstanceCount", "1", "GreaterThanOrEqualTo")) == [
        "broken", "one", "three"]
    assert found(trained, flt("FinalMetricDataList.MetricName", "train:loss")) == ["broken", "one", "three"]
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).isoformat()
    assert found(trained, flt("CreationTime", past, "GreaterThan")) == ["broken", "one", "three"]
    assert found(trained, flt("TrainingEndTime", past, "LessThan")) == []


def test_nested_filters_match_within_one_metric(trained):  # type: ignore[no-untyped-def]
    low_loss = [{"NestedPropertyName": "FinalMetricDataList", "Filters": [
        flt("FinalMetricDataList.MetricName", "train:loss"), flt("FinalMetricDataList.Value", "0.5", "LessThan")]}]
    assert found(trained, NestedFilters=low_loss) == ["three"]
    high_accuracy = [{"NestedPropertyName": "FinalMetricDataList", "Filters": [
        flt("FinalMetricDataList.MetricName", "accuracy"), flt("FinalMetricDataList.Value", "0.6", "GreaterThan")]}]
    assert found(trained, NestedFilters=high_accuracy) == ["three"]
    loss_above_accuracy_cut = [{"NestedPropertyName": "FinalMetricDataList", "Filters": [
        flt("FinalMetricDataList.MetricName", "train:loss"), flt("FinalMetricDataList.Value", "0.6", "GreaterThan")]}]
    assert found(trained, NestedFilters=loss_above_accuracy_cut) == ["broken", "one"]


def test_sub_expressions_with_or(trained):  # type: ignore[no-untyped-def]
    either = [{"Operator": "Or", "Filters": [flt("HyperParameters.epochs", "3"), flt("TrainingJobStatus", "Failed")]}]
    assert found(trained, SubExpressions=either) == ["broken", "three"]
    both = [{"Filters": [flt("HyperParameters.epochs", "3"), flt("TrainingJobStatus", "Failed")]}]
    assert found(trained, SubExpressions=both) == []


def test_sorting_and_paging(trained):  # type: ignore[no-untyped-def]
    assert found(trained, SortOrder="Descending") == ["three", "one", "broken"]
    assert found(trained, SortBy="CreationTime", SortOrder="Ascending") == ["one", "three", "broken"]
    assert found(trained, SortBy="HyperParameters.epochs", SortOrder="Ascending") == ["one", "three", "broken"]
    sm, prefix = trained["sm"], trained["prefix"]
    expression = {"Filters": [flt("TrainingJobName", prefix, "Contains")]}
    default = sm.search(Resource="TrainingJob", SearchExpression=expression)["Results"]
    modified = {name: sm.describe_training_job(TrainingJobName=name)["LastModifiedTime"] for name in trained["names"]}
    assert [r["TrainingJob"]["TrainingJobName"] for r in default] == sorted(modified, key=modified.get, reverse=True)
    pages, token = [], None
    while True:
        response = sm.search(Resource="TrainingJob", SearchExpression=expression, MaxResults=2,
                             SortBy="TrainingJobName", SortOrder="Ascending", **({"NextToken": token} if token else {}))
        pages.append([r["TrainingJob"]["TrainingJobName"].rsplit("-", 1)[1] for r in response["Results"]])
        assert response["TotalHits"]["Value"] == 3
        token = response.get("NextToken")
        if not token:
            break
    assert pages == [["broken", "one"], ["three"]]


@pytest.mark.parametrize(("expression", "sort", "expected"), [
    ({"Filters": [flt("NoSuchThing", "x")]}, None, "'NoSuchThing' is not a searchable property of TrainingJob"),
    ({"Filters": [flt("TrainingJobStatus", "A", "GreaterThan")]}, None,
     "GreaterThan is not supported for text property TrainingJobStatus"),
    ({"Filters": [flt("ResourceConfig.InstanceCount", "x", "LessThan")]}, None, "is not a number"),
    ({"Filters": [flt("CreationTime", "soon", "GreaterThan")]}, None, "ISO 8601"),
    ({"Filters": [flt("ModelArtifacts", "x")]}, None, "only Exists and NotExists"),
    ({"Filters": [flt("TrainingJobName", "x")]}, "HyperParameters", "Cannot sort TrainingJob results"),
])
def test_bad_searches_are_validation_errors(trained, expression, sort, expected):  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        trained["sm"].search(Resource="TrainingJob", SearchExpression=expression, **({"SortBy": sort} if sort else {}))
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert expected in info.value.response["Error"]["Message"]


def test_too_deep_an_expression_is_refused(trained):  # type: ignore[no-untyped-def]
    deep: dict[str, Any] = {"Filters": [flt("TrainingJobName", "x")]}
    for _ in range(40):
        deep = {"SubExpressions": [deep]}
    with pytest.raises(ClientError) as info:
        trained["sm"].search(Resource="TrainingJob", SearchExpression=deep)
    assert info.value.response["Error"]["Code"] in ("ValidationException", "SerializationException")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
