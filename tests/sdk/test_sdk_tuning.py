"""The SDK's HyperparameterTuner, unchanged: fit -> best_training_job -> analytics -> deploy + predict."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sdk.conftest import ROLE, SdkStack, check

pytestmark = pytest.mark.slow
ENTRY = """
# One script for training and serving, as the SDK's deploy-after-tune expects: the serving container
# imports it for its handlers; only training runs it as __main__.
import os, runpy
from inference import input_fn, model_fn, output_fn, predict_fn

if __name__ == "__main__":
    runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "train.py"), run_name="__main__")
"""


def test_tuner_fit_best_analytics_deploy(sdk_stack: SdkStack, tmp_path: Path, examples: Path, unique: str) -> None:
    code = examples / "pipeline" / "code"
    (code / "entry.py").write_text(ENTRY)
    lines = []
    for index in range(120):
        x1, x2 = ((index * 37) % 101 - 50) / 10, ((index * 53) % 97 - 48) / 10
        lines.append(f"{int(x1 + x2 > 0)},{x1},{x2}")
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n")
    script = f'''
import json
import sagemaker
from sagemaker.deserializers import JSONDeserializer
from sagemaker.serializers import JSONSerializer
from sagemaker.sklearn import SKLearn
from sagemaker.tuner import ContinuousParameter, HyperparameterTuner

session = sagemaker.Session()
train = session.upload_data("train.csv", key_prefix="{unique}/train")
estimator = SKLearn(entry_point="entry.py", source_dir="{code}", framework_version="1.2-1", role="{ROLE}",
                    instance_count=1, instance_type="ml.m5.large", sagemaker_session=session)
tuner = HyperparameterTuner(estimator=estimator, objective_metric_name="train:accuracy",
                            hyperparameter_ranges={{"C": ContinuousParameter(0.001, 10, scaling_type="Logarithmic")}},
                            metric_definitions=[{{"Name": "train:accuracy", "Regex": "train_accuracy=([0-9.]+)"}}],
                            max_jobs=3, max_parallel_jobs=2, base_tuning_job_name="{unique[:10]}")
tuner.fit({{"train": train}})
best = tuner.best_training_job()
print("BEST", best)
frame = tuner.analytics().dataframe()
print("ROWS", len(frame), "COLUMNS", ",".join(sorted(frame.columns)))
print("TOP", frame.sort_values("FinalObjectiveValue", ascending=False).iloc[0]["TrainingJobName"])
print("ESTIMATOR", tuner.best_estimator().latest_training_job.name)
predictor = tuner.deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name="{unique}",
                         serializer=JSONSerializer(), deserializer=JSONDeserializer())
print("PREDICT", json.dumps(predictor.predict({{"instances": [[3.0, 2.0], [-4.0, -1.5]]}})))
predictor.delete_endpoint()
'''
    output = check(sdk_stack.run(script, tmp_path, timeout=600))
    best = output.split("BEST ", 1)[1].split()[0]
    assert "ROWS 3 " in output
    assert "C" in output.split("COLUMNS ", 1)[1].split()[0].split(",")
    assert f"TOP {best}" in output
    assert f"ESTIMATOR {best}" in output
    assert 'PREDICT {"predictions": [1, 0]}' in output
