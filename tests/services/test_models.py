"""Models black-box tests through boto3: create/describe/list/delete, containers, model packages."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import sqlalchemy

from tests.support.aws_errors import code, error_of, message

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
PACKAGE_SPEC = {
    "Containers": [
        {
            "Image": IMAGE,
            "ModelDataUrl": "s3://bucket/pkg/model.tar.gz",
            "Environment": {"A": "from-package", "B": "from-package"},
        }
    ],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}


def container(**extra: object) -> dict[str, object]:
    return {"Image": IMAGE, "ModelDataUrl": "s3://bucket/model.tar.gz", **extra}


def raw_body(sm, operation: str, **params) -> dict:  # type: ignore[no-untyped-def]
    """The JSON the server sent for one call (boto3's parser would hide unknown keys)."""
    seen: list[bytes] = []
    event = f"after-call.sagemaker.{operation}"

    def keep(http_response, **_kwargs) -> None:  # type: ignore[no-untyped-def]
        seen.append(http_response.content)

    sm.meta.events.register(event, keep)
    try:
        getattr(sm, _snake(operation))(**params)
    finally:
        sm.meta.events.unregister(event, keep)
    return json.loads(seen[0])


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def test_model_lifecycle(sm_any, unique):  # type: ignore[no-untyped-def]
    arn = sm_any.create_model(
        ModelName=unique,
        PrimaryContainer=container(Environment={"SAGEMAKER_PROGRAM": "inference.py"}),
        ExecutionRoleArn=ROLE,
        Tags=[{"Key": "team", "Value": "risk"}],
        EnableNetworkIsolation=True,
    )["ModelArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:000000000000:model/{unique}"
    described = sm_any.describe_model(ModelName=unique)
    assert described["ModelName"] == unique and described["ModelArn"] == arn
    assert described["PrimaryContainer"] == container(
        Environment={"SAGEMAKER_PROGRAM": "inference.py"}, Mode="SingleModel"
    )
    assert described["ExecutionRoleArn"] == ROLE
    assert described["EnableNetworkIsolation"] is True
    assert abs(described["CreationTime"].timestamp() - time.time()) < 60
    assert "Containers" not in described
    assert sm_any.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "risk"}]
    sm_any.delete_model(ModelName=unique)
    missing = error_of(sm_any.describe_model, ModelName=unique)
    assert code(missing) == "ValidationException"
    assert message(missing) == f'Could not find model "{unique}".'
    again = error_of(sm_any.delete_model, ModelName=unique)
    assert code(again) == "ValidationException" and message(again) == f'Could not find model "{unique}".'


def test_defaults_shown_by_describe(sm, unique):  # type: ignore[no-untyped-def]
    sm.create_model(ModelName=unique, PrimaryContainer={"Image": IMAGE})
    described = sm.describe_model(ModelName=unique)
    assert described["PrimaryContainer"] == {"Image": IMAGE, "Environment": {}, "Mode": "SingleModel"}
    assert described["EnableNetworkIsolation"] is False
    assert "ExecutionRoleArn" not in described and "InferenceExecutionConfig" not in described


def test_duplicate_model_is_refused_and_not_overwritten(sm_any, unique):  # type: ignore[no-untyped-def]
    arn = sm_any.create_model(ModelName=unique, PrimaryContainer=container(Environment={"V": "1"}))[
        "ModelArn"
    ]
    err = error_of(sm_any.create_model, ModelName=unique, PrimaryContainer=container(Environment={"V": "2"}))
    assert code(err) == "ValidationException"
    assert message(err) == f'Cannot create already existing model "{arn}".'
    assert sm_any.describe_model(ModelName=unique)["PrimaryContainer"]["Environment"] == {"V": "1"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"PrimaryContainer": container(), "Containers": [container()]}, "not both"),
        ({}, "specify PrimaryContainer or Containers"),
        ({"Containers": []}, "specify PrimaryContainer or Containers"),
        ({"PrimaryContainer": {"ModelDataUrl": "s3://b/m.tar.gz"}}, "needs an Image or a ModelPackageName"),
        (
            {"PrimaryContainer": {"Image": IMAGE, "ModelPackageName": "pkg"}},
            "ModelPackageName together with Image",
        ),
        (
            {"PrimaryContainer": {"Image": IMAGE, "InferenceSpecificationName": "x"}},
            "InferenceSpecificationName requires ModelPackageName",
        ),
        (
            {
                "PrimaryContainer": {
                    "Image": IMAGE,
                    "ModelDataUrl": "s3://b/m.tar.gz",
                    "ModelDataSource": {
                        "S3DataSource": {
                            "S3Uri": "s3://b/m/",
                            "S3DataType": "S3Prefix",
                            "CompressionType": "None",
                        }
                    },
                }
            },
            "ModelDataUrl or ModelDataSource, not both",
        ),
        (
            {
                "Containers": [container(ContainerHostname="a"), container()],
                "InferenceExecutionConfig": {"Mode": "Direct"},
            },
            "Direct requires a ContainerHostname on every container",
        ),
        (
            {"Containers": [container(ContainerHostname="a"), container(ContainerHostname="a")]},
            "ContainerHostname values must be unique",
        ),
        ({"Containers": [container(Mode="MultiModel"), container()]}, "MultiModel mode is supported only"),
    ],
)
def test_bad_container_combinations(sm, unique, params, expected):  # type: ignore[no-untyped-def]
    err = error_of(sm.create_model, ModelName=unique, **params)
    assert code(err) == "ValidationException"
    assert expected in message(err)
    assert code(error_of(sm.describe_model, ModelName=unique)) == "ValidationException"


def test_spec_limits_are_enforced(sm, unique):  # type: ignore[no-untyped-def]
    too_many = error_of(sm.create_model, ModelName=unique, Containers=[container() for _ in range(16)])
    assert code(too_many) == "ValidationException" and "containers" in message(too_many)
    bad_name = error_of(sm.create_model, ModelName="bad_name", PrimaryContainer=container())
    assert code(bad_name) == "ValidationException" and "modelName" in message(bad_name)
    bad_mode = error_of(
        sm.create_model,
        ModelName=unique,
        Containers=[container()],
        InferenceExecutionConfig={"Mode": "Parallel"},
    )
    assert code(bad_mode) == "ValidationException" and "Serial, Direct" in message(bad_mode)


def _package(sm, group: str) -> str:  # type: ignore[no-untyped-def]
    sm.create_model_package_group(ModelPackageGroupName=group)
    return sm.create_model_package(
        ModelPackageGroupName=group, InferenceSpecification=PACKAGE_SPEC, ModelApprovalStatus="Approved"
    )["ModelPackageArn"]


def _stored_row(server, name: str) -> tuple[dict, dict]:  # type: ignore[no-untyped-def,type-arg]
    engine = sqlalchemy.create_engine(f"sqlite:///{server.data_dir / 'modelyard.db'}")
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sqlalchemy.text("SELECT document, desired FROM resources WHERE kind = 'model' AND name = :name"),
                {"name": name},
            ).one()
    finally:
        engine.dispose()
    return json.loads(row.document), json.loads(row.desired)


def test_model_from_package_resolves_containers_internally(sm, server, unique):  # type: ignore[no-untyped-def]
    package_arn = _package(sm, unique)
    assert package_arn.endswith(f":model-package/{unique}/1")
    given = {"ModelPackageName": package_arn, "Environment": {"B": "from-model", "C": "3"}}
    sm.create_model(ModelName=unique, Containers=[given], ExecutionRoleArn=ROLE)
    described = sm.describe_model(ModelName=unique)
    assert described["Containers"] == [given]
    body = raw_body(sm, "DescribeModel", ModelName=unique)
    assert "_ResolvedContainers" not in json.dumps(body)
    assert body["Containers"] == [given]
    document, desired = _stored_row(server, unique)
    assert not [key for key in document if key.startswith("_")]
    resolved = desired["resolved_containers"]
    assert resolved == [
        {
            "Image": IMAGE,
            "ModelDataUrl": "s3://bucket/pkg/model.tar.gz",
            "Environment": {"A": "from-package", "B": "from-model", "C": "3"},
            "Mode": "SingleModel",
            "ModelPackageName": package_arn,
        }
    ]


def test_model_from_package_by_name_forms(sm_any, unique):  # type: ignore[no-untyped-def]
    package_arn = _package(sm_any, unique)
    sm_any.create_model(ModelName=f"{unique}-a", PrimaryContainer={"ModelPackageName": f"{unique}/1"})
    assert sm_any.describe_model(ModelName=f"{unique}-a")["PrimaryContainer"] == {
        "ModelPackageName": f"{unique}/1",
        "Environment": {},
    }
    sm_any.create_model_package(ModelPackageName=f"{unique}-solo", InferenceSpecification=PACKAGE_SPEC)
    sm_any.create_model(ModelName=f"{unique}-b", PrimaryContainer={"ModelPackageName": f"{unique}-solo"})
    sm_any.create_model(ModelName=f"{unique}-c", Containers=[{"ModelPackageName": package_arn}])
    assert sm_any.describe_model(ModelName=f"{unique}-c")["Containers"][0]["ModelPackageName"] == package_arn


def test_unknown_model_package_is_named(sm_any, unique):  # type: ignore[no-untyped-def]
    package_arn = _package(sm_any, unique)
    for reference in (
        f"{unique}/7",
        f"{unique}-nothing",
        package_arn.replace("/1", "/9"),
        package_arn.replace("us-east-1", "eu-west-1"),
    ):
        err = error_of(
            sm_any.create_model, ModelName=unique, PrimaryContainer={"ModelPackageName": reference}
        )
        assert code(err) == "ValidationException"
        assert message(err) == f'Could not find model package "{reference}".'
    assert code(error_of(sm_any.describe_model, ModelName=unique)) == "ValidationException"


def test_package_without_inference_specification(sm, unique):  # type: ignore[no-untyped-def]
    sm.create_model_package_group(ModelPackageGroupName=unique)
    arn = sm.create_model_package(ModelPackageGroupName=unique)["ModelPackageArn"]
    err = error_of(sm.create_model, ModelName=unique, PrimaryContainer={"ModelPackageName": arn})
    assert code(err) == "ValidationException" and "has no InferenceSpecification" in message(err)
    named = error_of(
        sm.create_model,
        ModelName=unique,
        PrimaryContainer={"ModelPackageName": arn, "InferenceSpecificationName": "gpu"},
    )
    assert code(
        named
    ) == "ValidationException" and 'no additional inference specification named "gpu"' in message(named)


def _names(sm, **params) -> list[str]:  # type: ignore[no-untyped-def]
    return [m["ModelName"] for m in sm.list_models(**params)["Models"]]


def test_list_models_filters_sorts_and_pages(sm_any, unique):  # type: ignore[no-untyped-def]
    first = [f"{unique}-b", f"{unique}-d"]
    second = [f"{unique}-a", f"{unique}-e", f"{unique}-c"]
    for name in first:
        sm_any.create_model(ModelName=name, PrimaryContainer=container())
    time.sleep(0.3)
    mark = dt.datetime.now(dt.timezone.utc)
    time.sleep(0.3)
    for name in second:
        sm_any.create_model(ModelName=name, PrimaryContainer=container())
    created = first + second
    assert _names(sm_any, NameContains=unique) == created[::-1]
    assert _names(sm_any, NameContains=unique.upper(), SortOrder="Ascending") == created
    assert _names(sm_any, NameContains=unique, SortBy="Name", SortOrder="Ascending") == sorted(created)
    assert _names(sm_any, NameContains=unique, SortBy="Name") == sorted(created, reverse=True)
    assert _names(sm_any, NameContains=unique, CreationTimeAfter=mark, SortOrder="Ascending") == second
    assert _names(sm_any, NameContains=unique, CreationTimeBefore=mark, SortOrder="Ascending") == first
    pages, token = [], None
    while True:
        params = {"NameContains": unique, "SortBy": "Name", "SortOrder": "Ascending", "MaxResults": 2}
        response = sm_any.list_models(**params, **({"NextToken": token} if token else {}))
        pages.append([m["ModelName"] for m in response["Models"]])
        token = response.get("NextToken")
        if not token:
            break
    assert pages == [sorted(created)[:2], sorted(created)[2:4], sorted(created)[4:]]
    summary = sm_any.list_models(NameContains=f"{unique}-a")["Models"][0]
    assert set(summary) == {"ModelName", "ModelArn", "CreationTime"}


def test_list_models_defaults_to_ten_and_rejects_bad_tokens(sm, unique):  # type: ignore[no-untyped-def]
    for i in range(11):
        sm.create_model(ModelName=f"{unique}-{i}", PrimaryContainer=container())
    response = sm.list_models(NameContains=unique)
    assert len(response["Models"]) == 10 and response["NextToken"]
    assert len(sm.list_models(NameContains=unique, NextToken=response["NextToken"])["Models"]) == 1
    err = error_of(sm.list_models, NextToken="not-a-token")
    assert code(err) == "ValidationException" and "not-a-token" in message(err)


def test_only_an_approved_package_version_makes_a_model(sm_any, unique):  # type: ignore[no-untyped-def]
    sm_any.create_model_package_group(ModelPackageGroupName=unique)
    arns = {}
    for status in ("", "Rejected"):
        given = {"ModelApprovalStatus": status} if status else {}
        arns[status] = sm_any.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=PACKAGE_SPEC,
                                                   **given)["ModelPackageArn"]
    for status, arn in (("PendingManualApproval", arns[""]), ("Rejected", arns["Rejected"])):
        for form in (arn, arn.split("/", 1)[1]):
            err = error_of(sm_any.create_model, ModelName=unique, PrimaryContainer={"ModelPackageName": form})
            assert code(err) == "ValidationException"
            assert message(err).startswith(f'Model package "{arn}" is not approved (ModelApprovalStatus is {status})')
            assert "UpdateModelPackage" in message(err)
    assert code(error_of(sm_any.describe_model, ModelName=unique)) == "ValidationException"
    sm_any.update_model_package(ModelPackageArn=arns[""], ModelApprovalStatus="Approved")
    sm_any.create_model(ModelName=unique, PrimaryContainer={"ModelPackageName": arns[""]})
    sm_any.create_model_package(ModelPackageName=f"{unique}-solo", InferenceSpecification=PACKAGE_SPEC)
    sm_any.create_model(ModelName=f"{unique}-solo", PrimaryContainer={"ModelPackageName": f"{unique}-solo"})
