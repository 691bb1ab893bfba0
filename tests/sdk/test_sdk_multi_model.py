"""The SDK's MultiDataModel flow, unchanged: deploy(), add_model(), list_models(), predict(target_model=...)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.multimodel.models import echo_model
from tests.sdk.conftest import BUCKET, ROLE, SdkStack, check


@pytest.mark.slow
def test_multi_data_model_deploy_add_list_predict(sdk_stack: SdkStack, tmp_path: Path, unique: str) -> None:
    first = echo_model(tmp_path / "first", "first", scale=2)
    second = echo_model(tmp_path / "second", "second", scale=5)
    script = f'''
import json
import sagemaker
from sagemaker.multidatamodel import MultiDataModel
from sagemaker.serializers import JSONSerializer
from sagemaker.deserializers import JSONDeserializer

session = sagemaker.Session()
assert session.default_bucket() == "{BUCKET}"
prefix = "s3://{BUCKET}/{unique}/models/"
mme = MultiDataModel(name="{unique}", model_data_prefix=prefix, image_uri="modelyard/python:3.11",
                     role="{ROLE}", sagemaker_session=session, predictor_cls=sagemaker.predictor.Predictor)
predictor = mme.deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name="{unique}",
                       serializer=JSONSerializer(), deserializer=JSONDeserializer())
mme.add_model(model_data_source="{first}", model_data_path="first.tar.gz")
copied = session.upload_data("{second}", key_prefix="{unique}/elsewhere")
mme.add_model(model_data_source=copied, model_data_path="team/second.tar.gz")
print("MODELS", json.dumps(sorted(mme.list_models())))
for target in ("first.tar.gz", "team/second.tar.gz", "first.tar.gz"):
    print("RESULT", json.dumps(predictor.predict({{"x": [1, 2]}}, target_model=target)))
predictor.delete_endpoint()
print("DELETED")
'''
    output = check(sdk_stack.run(script, tmp_path))
    assert json.loads(output.split("MODELS ", 1)[1].splitlines()[0]) == ["first.tar.gz", "team/second.tar.gz"]
    results = [json.loads(line.split("RESULT ", 1)[1]) for line in output.splitlines() if line.startswith("RESULT ")]
    assert [(r["name"], r["y"]) for r in results] == [("first", [2, 4]), ("second", [5, 10]), ("first", [2, 4])]
    assert results[0]["process"] == results[2]["process"]
    assert "DELETED" in output
