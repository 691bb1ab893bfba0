"""Search over models and endpoints, and over the resource types modelyard does not store."""

from __future__ import annotations

import time

import pytest

from tests.support.aws_errors import code, error_of, message

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def flt(name: str, value: str | None = None, operator: str = "Equals") -> dict[str, str]:
    return {"Name": name, "Operator": operator, **({"Value": value} if value is not None else {})}


@pytest.fixture()
def hosted(sm, unique):  # type: ignore[no-untyped-def]
    """Models a and b, an endpoint serving a (its artifact is absent, so it ends Failed), b unserved."""
    for suffix, tags in (("a", [{"Key": "team", "Value": "risk"}]), ("b", [])):
        sm.create_model(ModelName=f"{unique}-{suffix}", ExecutionRoleArn="arn:aws:iam::000000000000:role/r",
                        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://modelyard-absent-bucket/{suffix}",
                                          "Environment": {"WHICH": suffix}}, **({"Tags": tags} if tags else {}))
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": f"{unique}-a", "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=unique, Tags=[{"Key": "stage", "Value": "prod"}])
    deadline = time.monotonic() + 120
    while sm.describe_endpoint(EndpointName=unique)["EndpointStatus"] == "Creating":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    yield {"sm": sm, "name": unique}
    sm.delete_endpoint(EndpointName=unique)


def test_endpoint_records(hosted):  # type: ignore[no-untyped-def]
    sm, name = hosted["sm"], hosted["name"]
    response = sm.search(Resource="Endpoint", SearchExpression={"Filters": [flt("EndpointName", name)]})
    record = response["Results"][0]["Endpoint"]
    described = sm.describe_endpoint(EndpointName=name)
    for key in ("EndpointArn", "EndpointConfigName", "EndpointStatus", "CreationTime", "ProductionVariants"):
        assert record[key] == described[key], key
    assert record["Tags"] == [{"Key": "stage", "Value": "prod"}]
    status = described["EndpointStatus"]

    def names(*filters: dict[str, str]) -> list[str]:
        expression = {"Filters": [flt("EndpointConfigName", name), *filters]}
        return [r["Endpoint"]["EndpointName"] for r in sm.search(Resource="Endpoint",
                                                                 SearchExpression=expression)["Results"]]

    assert names(flt("EndpointStatus", status)) == [name]
    assert names(flt("EndpointStatus", "InService" if status != "InService" else "Failed")) == []
    assert names(flt("Tags.stage", "prod")) == [name]
    assert names(flt("ProductionVariants.VariantName", "AllTraffic")) == [name]
    assert names(flt("ProductionVariants.VariantName", "Other")) == []
    assert names(flt("EndpointName", name[:-1], "Contains")) == [name]
    assert names(flt("EndpointName", name), flt("EndpointName", name + "x")) == []


def test_model_records_are_model_dashboard_records(hosted):  # type: ignore[no-untyped-def]
    sm, name = hosted["sm"], hosted["name"]
    expression = {"Filters": [flt("Model.ModelName", name, "Contains")]}
    response = sm.search(Resource="Model", SearchExpression=expression, SortBy="Model.ModelName",
                         SortOrder="Ascending")
    records = [r["Model"] for r in response["Results"]]
    assert [r["Model"]["ModelName"] for r in records] == [f"{name}-a", f"{name}-b"]
    served, unserved = records
    assert served["Model"]["PrimaryContainer"]["Environment"] == {"WHICH": "a"}
    assert served["Model"]["Tags"] == [{"Key": "team", "Value": "risk"}]
    assert [e["EndpointName"] for e in served["Endpoints"]] == [name]
    assert served["Endpoints"][0]["EndpointStatus"] == sm.describe_endpoint(EndpointName=name)["EndpointStatus"]
    assert "Endpoints" not in unserved and unserved["Model"]["Tags"] == []

    def models(*filters: dict[str, str]) -> list[str]:
        found = sm.search(Resource="Model", SearchExpression={"Filters": [flt("Model.ModelName", f"{name}-a,{name}-b",
                                                                              "In"), *filters]})
        return sorted(r["Model"]["Model"]["ModelName"] for r in found["Results"])

    assert models(flt("Endpoints.EndpointName", name)) == [f"{name}-a"]
    assert models(flt("Endpoints", None, "NotExists")) == [f"{name}-b"]
    assert models(flt("Model.Tags.team", "risk")) == [f"{name}-a"]
    assert models(flt("Model.PrimaryContainer.Environment.WHICH", "b")) == [f"{name}-b"]
    assert models(flt("Model.PrimaryContainer.Image", IMAGE)) == [f"{name}-a", f"{name}-b"]
    newest = sm.search(Resource="Model", SearchExpression={"Filters": [flt("Model.ModelName", name, "Contains")]})
    assert [r["Model"]["Model"]["ModelName"] for r in newest["Results"]] == [f"{name}-b", f"{name}-a"]
    err = error_of(sm.search, Resource="Model", SearchExpression={"Filters": [flt("ModelName", name)]})
    assert code(err) == "ValidationException" and "'ModelName' is not a searchable property of Model" in message(err)


@pytest.mark.parametrize("resource", ["Experiment", "ExperimentTrial", "Pipeline",
                                      "FeatureGroup", "Project"])
def test_types_modelyard_does_not_store_answer_empty(sm, resource):  # type: ignore[no-untyped-def]
    response = sm.search(Resource=resource)
    assert response["Results"] == [] and response["TotalHits"] == {"Value": 0, "Relation": "EqualTo"}


def test_types_modelyard_does_not_store_still_check_the_expression(sm):  # type: ignore[no-untyped-def]
    ok = sm.search(Resource="HyperParameterTuningJob", SearchExpression={"Filters": [
        flt("HyperParameterTuningJobStatus", "Completed")]}, SortBy="CreationTime")
    assert ok["Results"] == []
    err = error_of(sm.search, Resource="HyperParameterTuningJob",
                   SearchExpression={"Filters": [flt("NoSuchProperty", "x")]})
    assert code(err) == "ValidationException" and "not a searchable property of HyperParameterTuningJob" in message(err)


@pytest.mark.parametrize("resource", ["ProcessingJob", "TransformJob", "Nonsense"])
def test_types_outside_the_api_enum_are_refused(sm, resource):  # type: ignore[no-untyped-def]
    err = error_of(sm.search, Resource=resource)
    assert code(err) == "ValidationException" and "enum value set" in message(err)
