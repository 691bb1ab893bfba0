"""The seed's SDK code, unchanged: Model(...).deploy() + predict + delete_endpoint; register + ModelPackage.deploy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sdk.conftest import BUCKET, ROLE, SdkStack, check


def upload_vectors(recommender: Path) -> str:
    """SDK code that uploads the recommender's vectors (not its code) as model.tar.gz; sets ``model_data``."""
    return f'''
import tarfile
from pathlib import Path
import sagemaker

session = sagemaker.Session()
assert session.default_bucket() == "{BUCKET}", session.default_bucket()
with tarfile.open("model.tar.gz", "w:gz") as tar:          # vectors only, as in the seed
    for child in sorted(Path("{recommender / 'model'}").iterdir()):
        if child.name != "code":
            tar.add(child, arcname=child.name)
model_data = session.upload_data("model.tar.gz", key_prefix="seed/artifacts")
print("uploaded", model_data)
'''


@pytest.mark.slow
def test_model_deploy_predict_delete(sdk_stack: SdkStack, tmp_path: Path, examples: Path, unique: str) -> None:
    recommender = examples / "recommender"
    script = upload_vectors(recommender) + f'''
import json
import sagemaker

model = sagemaker.Model(
    image_uri="modelyard/python:3.11",
    model_data=model_data,
    role="{ROLE}",
    entry_point="inference.py",
    source_dir="{recommender / 'model' / 'code'}",
    predictor_cls=sagemaker.predictor.Predictor,
    sagemaker_session=session,
)
predictor = model.deploy(instance_type="ml.m5.xlarge", initial_instance_count=1,
                         endpoint_name="{unique}", wait=True)
request_body = {{"user_id": "114521", "k": 3}}
response = predictor.predict(json.dumps(request_body), initial_args={{"ContentType": "application/json"}})
print("RESULT", json.dumps(json.loads(response)))
predictor.delete_endpoint()
print("DELETED")
'''
    output = check(sdk_stack.run(script, tmp_path))
    result = json.loads(output.split("RESULT ", 1)[1].splitlines()[0])
    assert result["user_id"] == "114521" and len(result["recommendations"]) == 3
    assert "DELETED" in output
    s3 = sdk_stack.s3()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert any(key.startswith("seed/artifacts/") for key in keys)
    assert any(key.endswith("model.tar.gz") and not key.startswith("seed/") for key in keys), keys  # the repack


@pytest.mark.slow
def test_register_then_deploy_the_model_package(sdk_stack: SdkStack, tmp_path: Path, examples: Path,
                                                unique: str) -> None:
    recommender = examples / "recommender"
    script = upload_vectors(recommender) + f'''
import json
import sagemaker
from sagemaker import ModelPackage
from sagemaker.predictor import Predictor

model = sagemaker.Model(image_uri="modelyard/python:3.11", model_data=model_data, role="{ROLE}",
                        entry_point="inference.py", source_dir="{recommender / 'model' / 'code'}",
                        sagemaker_session=session)
package = model.register(content_types=["application/json"], response_types=["application/json"],
                         inference_instances=["ml.m5.large"], transform_instances=["ml.m5.large"],
                         model_package_group_name="grp-{unique}", approval_status="PendingManualApproval",
                         description="recommender v1")
print("PACKAGE", package.model_package_arn)
again = model.register(content_types=["application/json"], response_types=["application/json"],
                       inference_instances=["ml.m5.large"], transform_instances=["ml.m5.large"],
                       model_package_group_name="grp-{unique}")
print("PACKAGE2", again.model_package_arn)

deployable = ModelPackage(role="{ROLE}", model_package_arn=package.model_package_arn, sagemaker_session=session)
deployable.deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name="{unique}",
                  endpoint_logging=True)
predictor = Predictor("{unique}", sagemaker_session=session)
print("RESULT", predictor.predict(json.dumps({{"user_id": "114521", "k": 2}}),
                                  initial_args={{"ContentType": "application/json"}}).decode())
predictor.delete_endpoint()
'''
    output = check(sdk_stack.run(script, tmp_path))
    arn = output.split("PACKAGE ", 1)[1].split()[0]
    assert arn.endswith(f":model-package/grp-{unique}/1")
    assert output.split("PACKAGE2 ", 1)[1].split()[0].endswith(f":model-package/grp-{unique}/2")
    assert len(json.loads(output.split("RESULT ", 1)[1].splitlines()[0])["recommendations"]) == 2
    sm = __import__("boto3").client("sagemaker", endpoint_url=sdk_stack.server.url, region_name="us-east-1",
                                    **sdk_stack.server.credentials)
    described = sm.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"  # ModelPackage.deploy approves it itself
    container = described["InferenceSpecification"]["Containers"][0]
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"


@pytest.mark.slow
def test_serverless_deploy_predict_delete(sdk_stack: SdkStack, tmp_path: Path, examples: Path, unique: str) -> None:
    recommender = examples / "recommender"
    script = upload_vectors(recommender) + f'''
import json
import sagemaker
from sagemaker.serverless import ServerlessInferenceConfig

model = sagemaker.Model(image_uri="modelyard/python:3.11", model_data=model_data, role="{ROLE}",
                        entry_point="inference.py", source_dir="{recommender / 'model' / 'code'}",
                        predictor_cls=sagemaker.predictor.Predictor, sagemaker_session=session)
predictor = model.deploy(serverless_inference_config=ServerlessInferenceConfig(memory_size_in_mb=2048,
                                                                               max_concurrency=2),
                         endpoint_name="{unique}", wait=True)
variant = session.sagemaker_client.describe_endpoint(EndpointName="{unique}")["ProductionVariants"][0]
print("CONFIG", json.dumps(variant["CurrentServerlessConfig"]))
response = predictor.predict(json.dumps({{"user_id": "114521", "k": 2}}),
                             initial_args={{"ContentType": "application/json"}})
print("RESULT", json.dumps(json.loads(response)))
predictor.delete_endpoint()
print("DELETED")
'''
    output = check(sdk_stack.run(script, tmp_path))
    assert json.loads(output.split("CONFIG ", 1)[1].splitlines()[0]) == {"MemorySizeInMB": 2048, "MaxConcurrency": 2}
    result = json.loads(output.split("RESULT ", 1)[1].splitlines()[0])
    assert len(result["recommendations"]) == 2
    assert "DELETED" in output
