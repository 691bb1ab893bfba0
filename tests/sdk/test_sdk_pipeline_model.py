"""The SDK's PipelineModel, unchanged: an sklearn featurizer (a StandardScaler) followed by an sklearn
model, deployed as one Serial endpoint and predicted through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sdk.conftest import ROLE, SdkStack, check

FEATURIZER = '''
import json, os
import numpy as np
from sklearn.preprocessing import StandardScaler

def model_fn(model_dir):
    with open(os.path.join(model_dir, "sample.json")) as handle:
        return StandardScaler().fit(np.array(json.load(handle)))

def input_fn(body, content_type):
    assert content_type == "text/csv", content_type
    text = body.decode() if isinstance(body, (bytes, bytearray)) else body
    return np.array([[float(v) for v in line.split(",")] for line in text.splitlines() if line])

def predict_fn(rows, scaler):
    return scaler.transform(rows)

def output_fn(rows, accept):
    return "\\n".join(",".join(f"{v:.6f}" for v in row) for row in rows), "text/csv"
'''

CLASSIFIER = '''
import json, os
import numpy as np

def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.json")) as handle:
        return np.array(json.load(handle))

def input_fn(body, content_type):
    assert content_type == "text/csv", f"the featurizer's answer arrives as text/csv, not {content_type}"
    text = body.decode() if isinstance(body, (bytes, bytearray)) else body
    return np.array([[float(v) for v in line.split(",")] for line in text.splitlines() if line])

def predict_fn(rows, weights):
    return {"labels": [int(v > 0) for v in rows @ weights], "standardized": rows.round(3).tolist()}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''


@pytest.mark.slow
def test_pipeline_model_deploy_predict_delete(sdk_stack: SdkStack, tmp_path: Path, unique: str) -> None:
    for name, code, data in (("featurizer", FEATURIZER, {"sample.json": [[0, 0], [2, 4]]}),
                             ("classifier", CLASSIFIER, {"weights.json": [1, 1]})):
        (tmp_path / name / "code").mkdir(parents=True)
        (tmp_path / name / "code" / f"{name}.py").write_text(code)
        for file, value in data.items():
            (tmp_path / name / file).write_text(json.dumps(value))
    script = f'''
import json, tarfile
import sagemaker
from sagemaker.pipeline import PipelineModel
from sagemaker.predictor import Predictor
from sagemaker.sklearn.model import SKLearnModel

session = sagemaker.Session()
models = []
for name in ("featurizer", "classifier"):
    with tarfile.open(f"{{name}}.tar.gz", "w:gz") as tar:
        tar.add(f"{tmp_path}/{{name}}/" + ("sample.json" if name == "featurizer" else "weights.json"),
                arcname="sample.json" if name == "featurizer" else "weights.json")
    data = session.upload_data(f"{{name}}.tar.gz", key_prefix=f"pipeline/{{name}}")
    models.append(SKLearnModel(model_data=data, role="{ROLE}", entry_point=f"{{name}}.py",
                               source_dir=f"{tmp_path}/{{name}}/code", framework_version="1.2-1",
                               sagemaker_session=session,
                               env={{"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}} if name == "featurizer"
                               else None))
pipeline = PipelineModel(name="{unique}", role="{ROLE}", models=models, sagemaker_session=session,
                         predictor_cls=Predictor)
predictor = pipeline.deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name="{unique}")
described = session.sagemaker_client.describe_model(ModelName="{unique}")
print("CONTAINERS", len(described["Containers"]))
answer = predictor.predict("1,2\\n-1,-2\\n", initial_args={{"ContentType": "text/csv", "Accept": "application/json"}})
print("RESULT", json.dumps(json.loads(answer)))
predictor.delete_endpoint()
print("DELETED")
'''
    output = check(sdk_stack.run(script, tmp_path, timeout=900))
    assert "CONTAINERS 2" in output
    result = json.loads(output.split("RESULT ", 1)[1].splitlines()[0])
    assert result["labels"] == [0, 0], "(1,2) standardized with mean (1,2) is (0,0); (-1,-2) is negative"
    assert result["standardized"] == [[0.0, 0.0], [-2.0, -2.0]]
    assert "DELETED" in output
