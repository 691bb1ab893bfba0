"""Hosting members modelyard does not act on are refused at create/update time; their inactive values pass."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.aws_errors import code, error_of, message

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
NOT_YET = "is not supported by modelyard yet"


def container(**extra: object) -> dict[str, object]:
    return {"Image": IMAGE, "ModelDataUrl": "s3://modelyard-absent-bucket/model.tar.gz", **extra}


def variant(model: str, name: str = "AllTraffic", **extra: object) -> dict[str, object]:
    return {"VariantName": name, "ModelName": model, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1,
            **extra}


def assert_refused(err: Any, member: str) -> None:
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert code(err) == "ValidationException"
    assert message(err).startswith(f"{member} {NOT_YET}: "), message(err)


CAPTURE = {"InitialSamplingPercentage": 50, "DestinationS3Uri": "s3://capture-bucket/prefix",
           "CaptureOptions": [{"CaptureMode": "Input"}]}


@pytest.mark.parametrize(("variant_extra", "config_extra", "member"), [
    ({}, {"DataCaptureConfig": {**CAPTURE, "KmsKeyId": "alias/capture"}}, "DataCaptureConfig.KmsKeyId"),
    ({}, {"AsyncInferenceConfig": {"OutputConfig": {"S3OutputPath": "s3://out-bucket/x", "KmsKeyId": "k"}}},
     "AsyncInferenceConfig.OutputConfig.KmsKeyId"),
    ({}, {"AsyncInferenceConfig": {"OutputConfig": {"S3OutputPath": "s3://out-bucket/x", "NotificationConfig": {
        "IncludeInferenceResponseIn": ["SUCCESS_NOTIFICATION_TOPIC"]}}}},
     "AsyncInferenceConfig.OutputConfig.NotificationConfig.IncludeInferenceResponseIn"),
    ({}, {"ExplainerConfig": {"ClarifyExplainerConfig": {"ShapConfig": {"ShapBaselineConfig": {
        "ShapBaseline": "1,2"}}}}}, "ExplainerConfig"),
    ({}, {"MetricsConfig": {"EnableEnhancedMetrics": True}}, "MetricsConfig"),
    ({}, {"EnableNetworkIsolation": True}, "EnableNetworkIsolation"),
    ({}, {"VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}}, "VpcConfig"),
    ({"AcceleratorType": "ml.eia2.medium"}, {}, "ProductionVariants[0].AcceleratorType"),
    ({"CoreDumpConfig": {"DestinationS3Uri": "s3://dump-bucket/x"}}, {}, "ProductionVariants[0].CoreDumpConfig"),
    ({"EnableSSMAccess": True}, {}, "ProductionVariants[0].EnableSSMAccess"),
    ({"ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 1, "MaxInstanceCount": 2}}, {},
     "ProductionVariants[0].ManagedInstanceScaling"),
    ({"RoutingConfig": {"RoutingStrategy": "RANDOM"}}, {}, "ProductionVariants[0].RoutingConfig.RoutingStrategy"),
    ({"ModelDataDownloadTimeoutInSeconds": 600}, {}, "ProductionVariants[0].ModelDataDownloadTimeoutInSeconds"),
    ({"ContainerStartupHealthCheckTimeoutInSeconds": 600}, {},
     "ProductionVariants[0].ContainerStartupHealthCheckTimeoutInSeconds"),
    ({"CapacityReservationConfig": {"CapacityReservationPreference": "capacity-reservations-only"}}, {},
     "ProductionVariants[0].CapacityReservationConfig"),
])
def test_create_endpoint_config_refuses(sm, unique, variant_extra, config_extra, member):  # type: ignore[no-untyped-def]
    sm.create_model(ModelName=unique, PrimaryContainer=container())
    production = {k: v for k, v in variant(unique, **variant_extra).items() if v is not None}
    extra = dict(config_extra)
    err = error_of(sm.create_endpoint_config, EndpointConfigName=unique, ProductionVariants=[production], **extra)
    assert_refused(err, member)
    assert code(error_of(sm.describe_endpoint_config, EndpointConfigName=unique)) == "ValidationException"


def test_refusal_names_the_variant_index(sm, unique):  # type: ignore[no-untyped-def]
    sm.create_model(ModelName=unique, PrimaryContainer=container())
    variants = [variant(unique, "A"), variant(unique, "B", EnableSSMAccess=True)]
    err = error_of(sm.create_endpoint_config, EndpointConfigName=unique, ProductionVariants=variants)
    assert_refused(err, "ProductionVariants[1].EnableSSMAccess")
    assert "modelyard logs" in message(err)


def test_inactive_values_are_accepted(sm, unique):  # type: ignore[no-untyped-def]
    sm.create_model(ModelName=unique, PrimaryContainer=container(ImageConfig={"RepositoryAccessMode": "Platform"}),
                    InferenceExecutionConfig={"Mode": "Serial"}, EnableNetworkIsolation=False)
    recorded = variant(unique, EnableSSMAccess=False, VolumeSizeInGB=30, InferenceAmiVersion="al2-ami-sagemaker-"
                       "inference-gpu-2", ManagedInstanceScaling={"Status": "DISABLED"},
                       RoutingConfig={"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"})
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[recorded],
                              DataCaptureConfig={**CAPTURE, "EnableCapture": False}, EnableNetworkIsolation=False,
                              MetricsConfig={"EnableEnhancedMetrics": False}, KmsKeyId="alias/key")
    described = sm.describe_endpoint_config(EndpointConfigName=unique)
    assert described["DataCaptureConfig"]["EnableCapture"] is False
    assert described["ProductionVariants"][0]["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}


@pytest.mark.parametrize(("params", "member"), [
    ({"Containers": [container(ImageConfig={"RepositoryAccessMode": "Vpc"})]}, "Containers[0].ImageConfig"),
    ({"PrimaryContainer": container(AdditionalModelDataSources=[{"ChannelName": "draft", "S3DataSource": {
        "S3Uri": "s3://b/draft/", "S3DataType": "S3Prefix", "CompressionType": "None"}}])},
     "PrimaryContainer.AdditionalModelDataSources"),
    ({"PrimaryContainer": {"Image": IMAGE, "ModelDataSource": {"S3DataSource": {
        "S3Uri": "s3://b/m.tar.gz", "S3DataType": "S3Object", "CompressionType": "Gzip", "ETag": "abc"}}}},
     "PrimaryContainer.ModelDataSource.S3DataSource"),
    ({"PrimaryContainer": container(), "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}},
     "VpcConfig"),
])
def test_create_model_refuses(sm, unique, params, member):  # type: ignore[no-untyped-def]
    err = error_of(sm.create_model, ModelName=unique, **params)
    assert_refused(err, member)
    assert code(error_of(sm.describe_model, ModelName=unique)) == "ValidationException"


@pytest.mark.parametrize(("operation", "params", "member"), [
    ("update_endpoint", {"EndpointConfigName": "any", "RetainAllVariantProperties": True},
     "RetainAllVariantProperties"),
    ("update_endpoint", {"EndpointConfigName": "any", "ExcludeRetainedVariantProperties": [
        {"VariantPropertyType": "DesiredWeight"}]}, "ExcludeRetainedVariantProperties"),
])
def test_endpoint_calls_refuse(sm, unique, operation, params, member):  # type: ignore[no-untyped-def]
    err = error_of(getattr(sm, operation), EndpointName=unique, **params)
    assert_refused(err, member)


def test_describe_endpoint_says_capture_stopped_until_it_runs(sm, unique):  # type: ignore[no-untyped-def]
    sm.create_model(ModelName=unique, PrimaryContainer=container())
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[variant(unique)],
                              DataCaptureConfig=CAPTURE)
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    try:
        shown = sm.describe_endpoint(EndpointName=unique)["DataCaptureConfig"]
        assert shown == {"EnableCapture": True, "CaptureStatus": "Stopped", "CurrentSamplingPercentage": 50,
                         "DestinationS3Uri": CAPTURE["DestinationS3Uri"]}
    finally:
        sm.delete_endpoint(EndpointName=unique)
