"""CreateModel and CreateEndpoint for multi-model containers: what is accepted and what is refused."""

from __future__ import annotations

import pytest

from tests.hosting.models import GENERIC_IMAGE, deploy, wait_for_status
from tests.hosting.test_byoc import ECHO_SERVE, image_dir, register
from tests.multimodel.models import deploy_multi_model

ROLE = "arn:aws:iam::000000000000:role/modelyard"


@pytest.mark.parametrize(("container", "says"), [
    ({"Image": GENERIC_IMAGE, "ModelDataUrl": "s3://b/m.tar.gz", "MultiModelConfig": {"ModelCacheSetting": "Disabled"}},
     "MultiModelConfig applies to a multi-model container only"),
    ({"Image": GENERIC_IMAGE, "Mode": "MultiModel"}, "needs ModelDataUrl"),
])
def test_create_model_refuses(sm, unique, container, says):  # type: ignore[no-untyped-def]
    with pytest.raises(sm.exceptions.ClientError) as caught:
        sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, PrimaryContainer=container)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert says in caught.value.response["Error"]["Message"]


def test_describe_model_shows_the_multi_model_container(sm, tmp_path, unique):  # type: ignore[no-untyped-def]
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": GENERIC_IMAGE, "ModelDataUrl": f"file://{tmp_path}/", "Mode": "MultiModel",
        "MultiModelConfig": {"ModelCacheSetting": "Disabled"}})
    container = sm.describe_model(ModelName=unique)["PrimaryContainer"]
    assert container["Mode"] == "MultiModel" and container["MultiModelConfig"] == {"ModelCacheSetting": "Disabled"}


def test_a_bring_your_own_image_without_the_contract_fails_the_endpoint_clearly(  # type: ignore[no-untyped-def]
        mme_server, sm, tmp_path, unique):
    image = f"{unique}.dkr.ecr.us-east-1.amazonaws.com/byoc-mme:1"
    register(mme_server, image, image_dir(tmp_path / "image", serve=ECHO_SERVE))
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": image, "ModelDataUrl": f"file://{tmp_path}/", "Mode": "MultiModel"})
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": unique, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    described = wait_for_status(sm, unique)
    assert described["EndpointStatus"] == "Failed"
    assert "does not declare SageMaker's multi-model container contract" in described["FailureReason"]
    assert "SAGEMAKER_MULTI_MODEL=true" in described["FailureReason"]


def test_an_empty_prefix_deploys(sm, tmp_path, unique):  # type: ignore[no-untyped-def]
    (tmp_path / "empty").mkdir()
    assert deploy_multi_model(sm, unique, f"file://{tmp_path}/empty/")["EndpointStatus"] == "InService"


def test_target_model_on_a_single_model_endpoint_is_a_validation_error(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    from tests.multimodel.models import echo_model

    artifact = echo_model(tmp_path / "single", "single")
    described = deploy(sm, unique, f"file://{artifact}")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    with pytest.raises(runtime.exceptions.ValidationError, match="not a multi-model endpoint"):
        runtime.invoke_endpoint(EndpointName=unique, TargetModel="m.tar.gz", ContentType="application/json",
                                Body=b'{"x": [1]}')
    reply = runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json", Body=b'{"x": [1]}')
    assert b"single" in reply["Body"].read()
