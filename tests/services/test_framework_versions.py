"""A framework image whose version cannot be installed is refused when the model or job is created."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.aws_errors import code, error_of, message

OLD_SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:0.20.0-cpu-py3"
ROLE = "arn:aws:iam::000000000000:role/modelyard"
RESOURCES = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30}


def refused(err: Any, member: str) -> None:
    assert code(err) == "ValidationException"
    text = message(err)
    assert text.startswith(f"{member} {OLD_SKLEARN}: scikit-learn 0.20.0 cannot be installed here"), text
    assert "The nearest version that works is 1.2-1 (image tag 1.2-1-cpu-py3)" in text


@pytest.mark.parametrize("form", ["PrimaryContainer", "Containers"])
def test_create_model(sm, unique, form):  # type: ignore[no-untyped-def]
    container = {"Image": OLD_SKLEARN, "ModelDataUrl": "s3://bucket/model.tar.gz"}
    given = {"PrimaryContainer": container} if form == "PrimaryContainer" else {"Containers": [container]}
    err = error_of(sm.create_model, ModelName=unique, ExecutionRoleArn=ROLE, **given)
    refused(err, "PrimaryContainer.Image" if form == "PrimaryContainer" else "Containers.1.Image")
    assert code(error_of(sm.describe_model, ModelName=unique)) == "ValidationException"


def test_create_training_job(sm, unique):  # type: ignore[no-untyped-def]
    err = error_of(sm.create_training_job, TrainingJobName=unique, RoleArn=ROLE,
                   AlgorithmSpecification={"TrainingImage": OLD_SKLEARN, "TrainingInputMode": "File"},
                   OutputDataConfig={"S3OutputPath": "s3://bucket/out"}, ResourceConfig=RESOURCES,
                   StoppingCondition={"MaxRuntimeInSeconds": 600})
    refused(err, "AlgorithmSpecification.TrainingImage")
    assert sm.list_training_jobs(NameContains=unique)["TrainingJobSummaries"] == []


def test_create_processing_job(sm, unique):  # type: ignore[no-untyped-def]
    err = error_of(sm.create_processing_job, ProcessingJobName=unique, RoleArn=ROLE,
                   AppSpecification={"ImageUri": OLD_SKLEARN, "ContainerEntrypoint": ["python3", "x.py"]},
                   ProcessingResources={"ClusterConfig": RESOURCES})
    refused(err, "AppSpecification.ImageUri")
    assert sm.list_processing_jobs(NameContains=unique)["ProcessingJobSummaries"] == []


def test_an_installable_version_is_accepted(sm, unique):  # type: ignore[no-untyped-def]
    image = OLD_SKLEARN.replace("0.20.0", "1.2-1")
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": image, "ModelDataUrl": "s3://bucket/model.tar.gz"})
    assert sm.describe_model(ModelName=unique)["PrimaryContainer"]["Image"] == image
