"""A scikit-learn training job whose model.tar.gz deploys unchanged through the hosting path."""

from __future__ import annotations

import json

import pytest

from tests.hosting.models import wait_for_status
from tests.jobs_e2e.jobs_support import (
    BUCKET,
    ROLE,
    SKLEARN_IMAGE,
    put,
    read_tarball,
    sourcedir,
    stack,
    training_request,
    wait_training,
)
from tests.jobs_e2e.training_scripts import SKLEARN_INFERENCE, SKLEARN_TRAIN, sklearn_training_csv


@pytest.mark.slow
def test_sklearn_training_then_deploy_and_invoke(unique):  # type: ignore[no-untyped-def]
    jobs = stack()
    sm, s3 = jobs.client("sagemaker"), jobs.s3()
    source = put(s3, f"{unique}/source/sourcedir.tar.gz",
                 sourcedir({"train.py": SKLEARN_TRAIN, "inference.py": SKLEARN_INFERENCE,
                            "requirements.txt": "joblib\n"}))
    put(s3, f"{unique}/data/train/train.csv", sklearn_training_csv())
    request = training_request(unique, program="train.py", submit=source, image=SKLEARN_IMAGE,
                               output=f"s3://{BUCKET}/{unique}/output",
                               channels={"train": f"s3://{BUCKET}/{unique}/data/train"},
                               hyperparameters={"C": "10.0"})
    request["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "train:accuracy",
                                                               "Regex": r"train_accuracy=([0-9.]+)"}]
    sm.create_training_job(**request)
    described = wait_training(sm, unique, timeout=540)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["FinalMetricDataList"][0]["Value"] > 0.9
    model_data = described["ModelArtifacts"]["S3ModelArtifacts"]
    files = read_tarball(s3.get_object(Bucket=BUCKET, Key=f"{unique}/output/{unique}/output/model.tar.gz")["Body"]
                         .read())
    assert set(files) == {"model.joblib", "code/inference.py"}

    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": SKLEARN_IMAGE, "ModelDataUrl": model_data,
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}})
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": unique, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    try:
        endpoint = wait_for_status(sm, unique, timeout=300)
        assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")
        response = jobs.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=unique, ContentType="application/json",
            Body=json.dumps({"instances": [[3.0, 2.0], [-4.0, -1.5]]}))
        assert json.loads(response["Body"].read()) == {"predictions": [1, 0]}
    finally:
        sm.delete_endpoint(EndpointName=unique)
