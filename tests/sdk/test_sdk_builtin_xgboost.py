"""The built-in XGBoost algorithm through the SDK, unchanged: ``image_uris.retrieve("xgboost", ...)``,
``Estimator(image_uri=...).fit`` with no entry point, ``deploy``, then ``predict`` with ``CSVSerializer``
and with libsvm."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from tests.sdk.conftest import ROLE, SdkStack, check

pytestmark = pytest.mark.slow


def test_estimator_fit_deploy_predict_csv_and_libsvm(sdk_stack: SdkStack, tmp_path: Path, unique: str) -> None:
    rng = random.Random(7)
    lines = []
    for _ in range(150):
        x1, x2 = rng.uniform(-1, 1), rng.uniform(-1, 1)
        lines.append(f"{2 * x1 + x2:.4f},{x1:.4f},{x2:.4f}")
    (tmp_path / "train.csv").write_text("\n".join(lines[:110]) + "\n")
    (tmp_path / "validation.csv").write_text("\n".join(lines[110:]) + "\n")
    script = f'''
import sagemaker
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.serializers import CSVSerializer

session = sagemaker.Session()
image = sagemaker.image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1")
train = session.upload_data("train.csv", key_prefix="{unique}/train")
validation = session.upload_data("validation.csv", key_prefix="{unique}/validation")
estimator = Estimator(image_uri=image, role="{ROLE}", instance_count=1, instance_type="ml.m5.large",
                      base_job_name="{unique}", sagemaker_session=session)
estimator.set_hyperparameters(objective="reg:squarederror", num_round=10, max_depth=3, eta=0.5)
estimator.fit({{"train": TrainingInput(train, content_type="text/csv"),
               "validation": TrainingInput(validation, content_type="text/csv")}}, logs=False)
metrics = {{m["MetricName"]: m["Value"] for m in estimator.latest_training_job.describe()["FinalMetricDataList"]}}
print("METRICS", sorted(metrics))
predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large", serializer=CSVSerializer())
try:
    print("CSV", predictor.predict([[0.5, 0.5], [-0.5, -0.5]]).decode().split())
    print("LIBSVM", predictor.predict("1:0.5 2:0.5", initial_args={{"ContentType": "text/libsvm"}}).decode().split())
finally:
    predictor.delete_endpoint()
'''
    output = check(sdk_stack.run(script, tmp_path))
    assert "METRICS ['train:rmse', 'validation:rmse']" in output
    printed = {m.group(1): json.loads(m.group(2).replace("'", '"'))
               for m in re.finditer(r"(CSV|LIBSVM) (\[.*\])", output)}  # deploy's "---!" ends with no newline
    csv_values = [float(v) for v in printed["CSV"]]
    libsvm_values = [float(v) for v in printed["LIBSVM"]]
    assert csv_values[0] > 1.0 and csv_values[1] < -1.0
    assert libsvm_values == csv_values[:1]
