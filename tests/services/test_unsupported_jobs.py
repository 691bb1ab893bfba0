"""Job and registry members modelyard does not act on are refused; what the SDK sends by default is accepted."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.aws_errors import code, error_of, message

ROLE = "arn:aws:iam::000000000000:role/modelyard"
UNKNOWN_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/modelyard-test-unregistered:1"
BUCKET = "modelyard-absent-bucket"
NOT_YET = "is not supported by modelyard yet"


def assert_refused(err: Any, member: str) -> None:
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert code(err) == "ValidationException"
    assert message(err).startswith(f"{member} {NOT_YET}: "), message(err)


def training(name: str, **extra: Any) -> dict[str, Any]:
    return {"TrainingJobName": name, "RoleArn": ROLE,
            "AlgorithmSpecification": {"TrainingImage": UNKNOWN_IMAGE, "TrainingInputMode": "File"},
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600}, **extra}


def channel(**source: Any) -> list[dict[str, Any]]:
    return [{"ChannelName": "train", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/train", **source}}}]


S3 = f"s3://{BUCKET}/x"


@pytest.mark.parametrize(("extra", "member"), [
    ({"AlgorithmSpecification": {"TrainingImage": UNKNOWN_IMAGE, "TrainingInputMode": "File",
                                 "TrainingImageConfig": {"TrainingRepositoryAccessMode": "Vpc"}}},
     "AlgorithmSpecification.TrainingImageConfig"),
    ({"InputDataConfig": channel(AttributeNames=["source-ref"])},
     "InputDataConfig[0].DataSource.S3DataSource.AttributeNames"),
    ({"OutputDataConfig": {"S3OutputPath": S3, "CompressionType": "NONE"}}, "OutputDataConfig.CompressionType"),
    ({"ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30,
                         "KeepAlivePeriodInSeconds": 600}}, "ResourceConfig.KeepAlivePeriodInSeconds"),
    ({"VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}}, "VpcConfig"),
    ({"CheckpointConfig": {"S3Uri": S3}}, "CheckpointConfig"),
    ({"DebugHookConfig": {"S3OutputPath": S3, "HookParameters": {"save_interval": "10"}}},
     "DebugHookConfig.HookParameters"),
    ({"DebugHookConfig": {"S3OutputPath": S3, "CollectionConfigurations": [{"CollectionName": "losses"}]}},
     "DebugHookConfig.CollectionConfigurations"),
    ({"DebugRuleConfigurations": [{"RuleConfigurationName": "loss", "RuleEvaluatorImage": UNKNOWN_IMAGE}]},
     "DebugRuleConfigurations"),
    ({"TensorBoardOutputConfig": {"S3OutputPath": S3}}, "TensorBoardOutputConfig"),
    ({"ProfilerConfig": {"S3OutputPath": S3, "ProfilingIntervalInMilliseconds": 500}},
     "ProfilerConfig.ProfilingIntervalInMilliseconds"),
    ({"ProfilerRuleConfigurations": [{"RuleConfigurationName": "report", "RuleEvaluatorImage": UNKNOWN_IMAGE}]},
     "ProfilerRuleConfigurations"),
    ({"RetryStrategy": {"MaximumRetryAttempts": 2}}, "RetryStrategy"),
    ({"RemoteDebugConfig": {"EnableRemoteDebug": True}}, "RemoteDebugConfig.EnableRemoteDebug"),
    ({"InfraCheckConfig": {"EnableInfraCheck": True}}, "InfraCheckConfig.EnableInfraCheck"),
])
def test_create_training_job_refuses(sm, unique, extra, member):  # type: ignore[no-untyped-def]
    err = error_of(sm.create_training_job, **training(unique, **extra))
    assert_refused(err, member)
    assert code(error_of(sm.describe_training_job, TrainingJobName=unique)) == "ValidationException"


def test_sdk_default_training_members_are_accepted(sm, unique):  # type: ignore[no-untyped-def]
    """What ``Estimator.fit`` sends by default (sagemaker 2.257): a debugger hook path and an enabled profiler."""
    defaults = {"DebugHookConfig": {"S3OutputPath": f"s3://{BUCKET}/", "CollectionConfigurations": []},
                "ProfilerConfig": {"S3OutputPath": f"s3://{BUCKET}/", "DisableProfiler": False},
                "EnableNetworkIsolation": False, "EnableInterContainerTrafficEncryption": False,
                "EnableManagedSpotTraining": False, "RemoteDebugConfig": {"EnableRemoteDebug": False},
                "InfraCheckConfig": {"EnableInfraCheck": False},
                "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out", "CompressionType": "GZIP"},
                "ExperimentConfig": {"ExperimentName": "e", "TrialName": "t"}}
    sm.create_training_job(**training(unique, **defaults))
    described = sm.describe_training_job(TrainingJobName=unique)
    assert described["DebugHookConfig"] == defaults["DebugHookConfig"]
    assert described["ProfilerConfig"] == defaults["ProfilerConfig"]
    disabled = f"{unique}-off"
    sm.create_training_job(**training(disabled, ProfilerConfig={"DisableProfiler": True}))
    assert sm.describe_training_job(TrainingJobName=disabled)["ProfilerConfig"] == {"DisableProfiler": True}


def processing(name: str, output: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    target = {"S3Uri": f"s3://{BUCKET}/out", "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}
    return {"ProcessingJobName": name, "RoleArn": ROLE,
            "AppSpecification": {"ImageUri": UNKNOWN_IMAGE, "ContainerEntrypoint": ["python3", "job.py"]},
            "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                                      "VolumeSizeInGB": 30}},
            "ProcessingOutputConfig": {"Outputs": [{"OutputName": "out", "AppManaged": False,
                                                    "S3Output": {**target, **(output or {})}}]},
            **extra}


@pytest.mark.parametrize(("output", "extra", "member"), [
    ({"S3UploadMode": "Continuous"}, {}, "ProcessingOutputConfig.Outputs[0].S3Output.S3UploadMode"),
    ({}, {"ProcessingInputs": [{"InputName": "in", "AppManaged": True, "S3Input": {
        "S3Uri": f"s3://{BUCKET}/in", "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix",
        "S3InputMode": "File"}}]}, "ProcessingInputs[0].AppManaged"),
    ({}, {"NetworkConfig": {"VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}}},
     "NetworkConfig.VpcConfig"),
])
def test_create_processing_job_refuses(sm, unique, output, extra, member):  # type: ignore[no-untyped-def]
    err = error_of(sm.create_processing_job, **processing(unique, output, **extra))
    assert_refused(err, member)


def test_processing_defaults_are_accepted(sm, unique):  # type: ignore[no-untyped-def]
    sm.create_processing_job(**processing(unique, NetworkConfig={"EnableNetworkIsolation": False,
                                                                 "EnableInterContainerTrafficEncryption": False}))
    described = sm.describe_processing_job(ProcessingJobName=unique)
    assert described["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3UploadMode"] == "EndOfJob"


def test_batch_data_capture_is_refused(sm, unique):  # type: ignore[no-untyped-def]
    err = error_of(sm.create_transform_job, TransformJobName=unique, ModelName=unique,
                   TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": S3}}},
                   TransformOutput={"S3OutputPath": S3},
                   TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
                   DataCaptureConfig={"DestinationS3Uri": S3})
    assert_refused(err, "DataCaptureConfig")


SPEC = {"Containers": [{"Image": UNKNOWN_IMAGE, "ModelDataUrl": f"s3://{BUCKET}/m.tar.gz"}],
        "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}


@pytest.mark.parametrize(("extra", "member"), [
    ({"ValidationSpecification": {"ValidationRole": ROLE, "ValidationProfiles": [{
        "ProfileName": "p", "TransformJobDefinition": {
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": S3}}},
            "TransformOutput": {"S3OutputPath": S3},
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}}]}},
     "ValidationSpecification"),
    ({"CertifyForMarketplace": True}, "CertifyForMarketplace"),
])
def test_create_model_package_refuses(sm, unique, extra, member):  # type: ignore[no-untyped-def]
    sm.create_model_package_group(ModelPackageGroupName=unique)
    err = error_of(sm.create_model_package, ModelPackageGroupName=unique, InferenceSpecification=SPEC, **extra)
    assert_refused(err, member)


def test_sdk_register_defaults_are_accepted(sm, unique):  # type: ignore[no-untyped-def]
    """``Model.register`` sends CertifyForMarketplace false and SkipModelValidation None."""
    sm.create_model_package_group(ModelPackageGroupName=unique)
    arn = sm.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=SPEC,
                                  CertifyForMarketplace=False, SkipModelValidation="None",
                                  ModelApprovalStatus="Approved")["ModelPackageArn"]
    assert sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "Approved"
