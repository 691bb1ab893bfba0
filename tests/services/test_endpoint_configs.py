"""Endpoint configuration black-box tests through boto3."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from tests.conftest import CLIENT_CONFIG
from tests.support.aws_errors import code, error_of, message

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@pytest.fixture()
def raw_sm(server):  # type: ignore[no-untyped-def]
    """A client that lets the server, not botocore, check lengths and ranges."""
    config = CLIENT_CONFIG.merge(Config(parameter_validation=False))
    return boto3.client("sagemaker", endpoint_url=server.url, region_name="us-east-1", config=config,
                        **server.credentials)


def new_model(sm, name: str) -> str:  # type: ignore[no-untyped-def]
    sm.create_model(ModelName=name, PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://b/model.tar.gz"})
    return name


def variant(model: str, name: str = "AllTraffic", **extra: object) -> dict[str, object]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
        **extra,
    }


def serverless(
    model: str, name: str = "AllTraffic", memory: int = 2048, **extra: object
) -> dict[str, object]:
    return {
        "VariantName": name,
        "ModelName": model,
        "ServerlessConfig": {"MemorySizeInMB": memory, "MaxConcurrency": 5},
        **extra,
    }


def test_endpoint_config_lifecycle(sm_any, unique):  # type: ignore[no-untyped-def]
    model = new_model(sm_any, unique)
    name = f"Cfg-{unique}"
    arn = sm_any.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[variant(model), variant(model, "Canary", InitialVariantWeight=0.25)],
        KmsKeyId="alias/key",
        Tags=[{"Key": "stage", "Value": "dev"}],
    )["EndpointConfigArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:000000000000:endpoint-config/cfg-{unique}"
    described = sm_any.describe_endpoint_config(EndpointConfigName=name)
    assert described["EndpointConfigName"] == name and described["EndpointConfigArn"] == arn
    assert described["ProductionVariants"] == [
        {**variant(model), "InitialVariantWeight": 1.0},
        {**variant(model, "Canary"), "InitialVariantWeight": 0.25},
    ]
    assert described["KmsKeyId"] == "alias/key"
    assert sm_any.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "dev"}]
    sm_any.delete_endpoint_config(EndpointConfigName=name)
    missing = error_of(sm_any.describe_endpoint_config, EndpointConfigName=name)
    assert code(missing) == "ValidationException"
    assert message(missing) == f'Could not find endpoint configuration "{name}".'
    again = error_of(sm_any.delete_endpoint_config, EndpointConfigName=name)
    assert message(again) == f'Could not find endpoint configuration "{name}".'


def test_duplicate_config_is_refused(sm_any, unique):  # type: ignore[no-untyped-def]
    model = new_model(sm_any, unique)
    arn = sm_any.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[variant(model)])[
        "EndpointConfigArn"
    ]
    for name in (unique, unique.upper()):
        err = error_of(
            sm_any.create_endpoint_config,
            EndpointConfigName=name,
            ProductionVariants=[variant(model, InitialInstanceCount=3)],
        )
        assert code(err) == "ValidationException"
        assert message(err) == f'Cannot create already existing endpoint configuration "{arn}".'
    described = sm_any.describe_endpoint_config(EndpointConfigName=unique)
    assert described["ProductionVariants"][0]["InitialInstanceCount"] == 1


def test_variant_models_must_exist(sm_any, unique):  # type: ignore[no-untyped-def]
    model = new_model(sm_any, unique)
    err = error_of(
        sm_any.create_endpoint_config,
        EndpointConfigName=unique,
        ProductionVariants=[variant(model), variant(f"{unique}-ghost", "B")],
    )
    assert code(err) == "ValidationException"
    assert message(err) == f'Could not find model "{unique}-ghost".'
    shadow = error_of(
        sm_any.create_endpoint_config,
        EndpointConfigName=unique,
        ProductionVariants=[variant(model)],
        ShadowProductionVariants=[variant(f"{unique}-shadow", "Shadow")],
    )
    assert code(shadow) == "ValidationException"
    assert message(shadow) == f'Could not find model "{unique}-shadow".'
    assert code(error_of(sm_any.describe_endpoint_config, EndpointConfigName=unique)) == "ValidationException"


def test_serverless_variant_is_stored_as_given(sm, unique):  # type: ignore[no-untyped-def]
    model = new_model(sm, unique)
    config = {"MemorySizeInMB": 6144, "MaxConcurrency": 200, "ProvisionedConcurrency": 2}
    sm.create_endpoint_config(EndpointConfigName=unique,
                              ProductionVariants=[serverless(model, memory=6144, ServerlessConfig=config)])
    described = sm.describe_endpoint_config(EndpointConfigName=unique)
    assert described["ProductionVariants"][0]["ServerlessConfig"] == config


def test_serverless_refuses_what_serverless_endpoints_cannot_host(sm, unique):  # type: ignore[no-untyped-def]
    model = new_model(sm, unique)
    isolated = f"{unique}-iso"
    sm.create_model(ModelName=isolated, PrimaryContainer={"Image": "modelyard/python:3.11"},
                    EnableNetworkIsolation=True)
    capture = {"InitialSamplingPercentage": 50, "DestinationS3Uri": "s3://capture-bucket/prefix",
               "CaptureOptions": [{"CaptureMode": "Input"}]}
    cases = [
        ({"ProductionVariants": [serverless(model, "A"), serverless(model, "B")]}, "exactly one ProductionVariant"),
        ({"ProductionVariants": [serverless(model)], "DataCaptureConfig": capture}, "DataCaptureConfig is not "
         "supported for serverless"),
        ({"ProductionVariants": [serverless(isolated)]}, "do not support network isolation"),
    ]
    for extra, expected in cases:
        err = error_of(sm.create_endpoint_config, EndpointConfigName=unique, **extra)
        assert code(err) == "ValidationException" and expected in message(err), message(err)
    assert code(error_of(sm.describe_endpoint_config, EndpointConfigName=unique)) == "ValidationException"


@pytest.mark.parametrize(
    ("variants", "extra", "expected"),
    [
        (lambda m: [variant(m), variant(m)], {}, "Variant names must be unique"),
        (
            lambda m: [{"VariantName": "A", "ModelName": m, "InstanceType": "ml.m5.large"}],
            {},
            'ProductionVariant "A" needs InitialInstanceCount',
        ),
        (lambda m: [{"VariantName": "A", "ModelName": m}], {}, "needs InstanceType and InitialInstanceCount"),
        (
            lambda m: [{"VariantName": "A", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
            {},
            'ProductionVariant "A" needs a ModelName',
        ),
        (lambda m: [serverless(m, InstanceType="ml.m5.large")], {}, "cannot also specify InstanceType"),
        (lambda m: [serverless(m, InitialInstanceCount=1)], {}, "cannot also specify InitialInstanceCount"),
        (lambda m: [serverless(m, memory=1500)], {}, "MemorySizeInMB 1500 is not one of 1024, 2048"),
        (
            lambda m: [
                serverless(
                    m,
                    ServerlessConfig={
                        "MemorySizeInMB": 1024,
                        "MaxConcurrency": 2,
                        "ProvisionedConcurrency": 3,
                    },
                )
            ],
            {},
            "ProvisionedConcurrency (3) cannot exceed MaxConcurrency (2)",
        ),
        (lambda m: [variant(m, "A"), serverless(m, "B")], {}, "cannot mix serverless and instance-based"),
        (
            lambda m: [variant(m, "A"), variant(m, "B")],
            {"ShadowProductionVariants": "shadow"},
            "exactly one ProductionVariant and one ShadowProductionVariant",
        ),
        (lambda m: [variant(m, "A")], {"ShadowProductionVariants": "same-name"}, "repeated: A"),
    ],
)
def test_bad_variants(sm, unique, variants, extra, expected):  # type: ignore[no-untyped-def]
    model = new_model(sm, unique)
    params = dict(extra)
    if params.get("ShadowProductionVariants") == "shadow":
        params["ShadowProductionVariants"] = [variant(model, "S")]
    elif params.get("ShadowProductionVariants") == "same-name":
        params["ShadowProductionVariants"] = [variant(model, "A")]
    err = error_of(
        sm.create_endpoint_config, EndpointConfigName=unique, ProductionVariants=variants(model), **params
    )
    assert code(err) == "ValidationException"
    assert expected in message(err)


def test_spec_level_variant_limits(raw_sm, unique):  # type: ignore[no-untyped-def]
    sm = raw_sm
    model = new_model(sm, unique)
    eleven = [variant(model, f"v{i}") for i in range(11)]
    err = error_of(sm.create_endpoint_config, EndpointConfigName=unique, ProductionVariants=eleven)
    assert code(err) == "ValidationException" and "productionVariants" in message(err)
    empty = error_of(sm.create_endpoint_config, EndpointConfigName=unique, ProductionVariants=[])
    assert code(empty) == "ValidationException"
    memory = error_of(
        sm.create_endpoint_config,
        EndpointConfigName=unique,
        ProductionVariants=[serverless(model, memory=8192)],
    )
    assert code(memory) == "ValidationException" and "less than or equal to 6144" in message(memory)
    weight = error_of(
        sm.create_endpoint_config,
        EndpointConfigName=unique,
        ProductionVariants=[variant(model, InitialVariantWeight=-1.0)],
    )
    assert code(weight) == "ValidationException" and "initialVariantWeight" in message(weight)


def test_shadow_variant_is_stored_and_refused_beside_async(sm, unique):  # type: ignore[no-untyped-def]
    model = new_model(sm, unique)
    shadow = variant(model, "Shadow", InitialVariantWeight=0.5)
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[variant(model)],
                              ShadowProductionVariants=[shadow])
    stored = sm.describe_endpoint_config(EndpointConfigName=unique)["ShadowProductionVariants"]
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in stored] == [("Shadow", 0.5)]
    err = error_of(sm.create_endpoint_config, EndpointConfigName=unique + "a", ProductionVariants=[variant(model)],
                   ShadowProductionVariants=[shadow],
                   AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://bucket/out"}})
    assert code(err) == "ValidationException"
    assert message(err).startswith("ShadowProductionVariants copy real-time invocations")


def test_async_inference_config(sm, unique):  # type: ignore[no-untyped-def]
    model = new_model(sm, unique)
    config = {
        "OutputConfig": {"S3OutputPath": "s3://my-bucket/async-out/", "S3FailurePath": "s3://my-bucket/f/"},
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
    }
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[variant(model)],
                              AsyncInferenceConfig=config)
    assert sm.describe_endpoint_config(EndpointConfigName=unique)["AsyncInferenceConfig"] == config
    notified = error_of(
        sm.create_endpoint_config,
        EndpointConfigName=f"{unique}-n",
        ProductionVariants=[variant(model)],
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://ok-bucket/x", "NotificationConfig": {
            "SuccessTopic": "arn:aws:sns:us-east-1:000000000000:done"}}},
    )
    assert code(notified) == "ValidationException" and "no SNS endpoint" in message(notified)
    captured = error_of(
        sm.create_endpoint_config,
        EndpointConfigName=f"{unique}-c",
        ProductionVariants=[variant(model)],
        AsyncInferenceConfig=config,
        DataCaptureConfig={"InitialSamplingPercentage": 50, "DestinationS3Uri": "s3://capture-bucket/prefix",
                           "CaptureOptions": [{"CaptureMode": "Input"}]},
    )
    assert code(captured) == "ValidationException" and "asynchronous endpoints" in message(captured)
    for output, expected in (
        ({}, "S3OutputPath is required"),
        ({"S3OutputPath": "s3://B_/x"}, "is not a valid S3 URI"),
        (
            {"S3OutputPath": "s3://ok-bucket/x", "S3FailurePath": "s3://x/"},
            "S3FailurePath 's3://x/' is not a valid S3 URI",
        ),
    ):
        err = error_of(
            sm.create_endpoint_config,
            EndpointConfigName=f"{unique}-x",
            ProductionVariants=[variant(model)],
            AsyncInferenceConfig={"OutputConfig": output},
        )
        assert code(err) == "ValidationException" and expected in message(err)
    wire = error_of(
        sm.create_endpoint_config,
        EndpointConfigName=f"{unique}-x",
        ProductionVariants=[variant(model)],
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "ftp://host/out"}},
    )
    assert code(wire) == "ValidationException" and "s3OutputPath" in message(wire)
    with_serverless = error_of(
        sm.create_endpoint_config,
        EndpointConfigName=f"{unique}-x",
        ProductionVariants=[serverless(model)],
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://ok-bucket/x"}},
    )
    assert "not supported with serverless" in message(with_serverless)


def test_data_capture_config(raw_sm, unique):  # type: ignore[no-untyped-def]
    sm = raw_sm
    model = new_model(sm, unique)
    capture = {
        "InitialSamplingPercentage": 50,
        "DestinationS3Uri": "s3://capture-bucket/prefix",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
    }
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[variant(model)], DataCaptureConfig=capture)
    assert sm.describe_endpoint_config(EndpointConfigName=unique)["DataCaptureConfig"] == capture
    disabled = {**capture, "EnableCapture": False}
    sm.create_endpoint_config(
        EndpointConfigName=f"{unique}-off", ProductionVariants=[variant(model)], DataCaptureConfig=disabled
    )
    assert sm.describe_endpoint_config(EndpointConfigName=f"{unique}-off")["DataCaptureConfig"] == disabled
    bad = [
        ({**capture, "InitialSamplingPercentage": 101}, "less than or equal to 100"),
        ({**capture, "InitialSamplingPercentage": -1}, "greater than or equal to 0"),
        ({**capture, "CaptureOptions": [{"CaptureMode": "Both"}]}, "enum value set: [Input, Output, InputAndOutput]"),
        (
            {**capture, "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Input"}]},
            "at most once each",
        ),
        ({**capture, "CaptureOptions": [{"CaptureMode": "Input"}] * 3}, "at most once each"),
        (
            {**capture, "CaptureOptions": [{"CaptureMode": "InputAndOutput"}, {"CaptureMode": "Output"}]},
            "InputAndOutput already covers",
        ),
        ({**capture, "CaptureOptions": []}, "captureOptions"),
        ({**capture, "DestinationS3Uri": "s3://x"}, "is not a valid S3 URI"),
        ({**capture, "DestinationS3Uri": "ftp://host/x"}, "must satisfy regular expression pattern"),
        ({**capture, "DestinationS3Uri": "https://bucket.s3.amazonaws.com/x"}, "s3:// (or file://) locations only"),
        ({**capture, "DestinationS3Uri": "file:///tmp/x?version=2"}, "is not usable"),
        ({**capture, "DestinationS3Uri": "file:///etc/capture"}, "is not an allowed data location"),
        ({**capture, "KmsKeyId": "alias/capture"}, "DataCaptureConfig.KmsKeyId is not supported by modelyard yet"),
    ]
    for config, expected in bad:
        err = error_of(
            sm.create_endpoint_config,
            EndpointConfigName=f"{unique}-x",
            ProductionVariants=[variant(model)],
            DataCaptureConfig=config,
        )
        assert code(err) == "ValidationException" and expected in message(err), (config, message(err))
    assert code(error_of(sm.describe_endpoint_config, EndpointConfigName=f"{unique}-x")) == "ValidationException"


def _names(sm, **params) -> list[str]:  # type: ignore[no-untyped-def]
    return [c["EndpointConfigName"] for c in sm.list_endpoint_configs(**params)["EndpointConfigs"]]


def test_list_endpoint_configs(sm_any, unique):  # type: ignore[no-untyped-def]
    model = new_model(sm_any, unique)
    created = [f"{unique}-c", f"{unique}-a", f"{unique}-d", f"{unique}-b"]
    for name in created:
        sm_any.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant(model)])
    assert _names(sm_any, NameContains=unique) == created[::-1]
    assert _names(sm_any, NameContains=unique, SortOrder="Ascending") == created
    assert _names(sm_any, NameContains=unique, SortBy="Name", SortOrder="Ascending") == sorted(created)
    assert _names(sm_any, NameContains=unique, SortBy="Name", SortOrder="Descending") == sorted(created)[::-1]
    seen, token = [], None
    for _ in range(4):
        response = sm_any.list_endpoint_configs(
            NameContains=unique, MaxResults=3, SortBy="Name", **({"NextToken": token} if token else {})
        )
        seen.append(len(response["EndpointConfigs"]))
        token = response.get("NextToken")
        if token is None:
            break
    assert seen == [3, 1]
    summary = sm_any.list_endpoint_configs(NameContains=f"{unique}-a")["EndpointConfigs"][0]
    assert set(summary) == {"EndpointConfigName", "EndpointConfigArn", "CreationTime"}
    assert summary["EndpointConfigArn"].endswith(f"endpoint-config/{unique}-a")
    after = sm_any.list_endpoint_configs(
        NameContains=unique, CreationTimeAfter=summary["CreationTime"], SortOrder="Ascending"
    )["EndpointConfigs"]
    assert [c["EndpointConfigName"] for c in after][-2:] == [f"{unique}-d", f"{unique}-b"]
    err = error_of(sm_any.list_endpoint_configs, NextToken="garbage!")
    assert code(err) == "ValidationException"
