"""The SDK's job classes, unchanged: SKLearnProcessor.run, Estimator.fit(logs=True) then register(),
Model.transformer().transform."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sdk.conftest import BUCKET, ROLE, SdkStack, check

pytestmark = pytest.mark.slow
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

PREPROCESS = '''
import argparse, glob, os
parser = argparse.ArgumentParser()
parser.add_argument("--factor", type=float, required=True)
args = parser.parse_args()
os.makedirs("/opt/ml/processing/output", exist_ok=True)
for path in sorted(glob.glob("/opt/ml/processing/input/*.csv")):
    rows = [[float(v) * args.factor for v in line.split(",")] for line in open(path) if line.strip()]
    with open(os.path.join("/opt/ml/processing/output", os.path.basename(path)), "w") as out:
        out.writelines(",".join(f"{v:g}" for v in row) + "\\n" for row in rows)
    print(f"scaled {len(rows)} rows of {os.path.basename(path)} by {args.factor}")
'''


def test_sklearn_processor_run(sdk_stack: SdkStack, tmp_path: Path, unique: str) -> None:
    (tmp_path / "preprocess.py").write_text(PREPROCESS)
    script = f'''
import sagemaker
from sagemaker.processing import ProcessingInput, ProcessingOutput
from sagemaker.sklearn.processing import SKLearnProcessor

session = sagemaker.Session()
open("raw.csv", "w").write("1,2\\n3,4\\n")
raw = session.upload_data("raw.csv", key_prefix="{unique}/raw")
processor = SKLearnProcessor(framework_version="1.2-1", role="{ROLE}", instance_type="ml.m5.large",
                             instance_count=1, base_job_name="{unique}", sagemaker_session=session)
processor.run(code="preprocess.py",
              inputs=[ProcessingInput(source=raw, destination="/opt/ml/processing/input")],
              outputs=[ProcessingOutput(source="/opt/ml/processing/output",
                                        destination="s3://{BUCKET}/{unique}/processed")],
              arguments=["--factor", "10"])
print("STATUS", processor.latest_job.describe()["ProcessingJobStatus"])
'''
    output = check(sdk_stack.run(script, tmp_path))
    assert "STATUS Completed" in output
    assert "scaled 2 rows of raw.csv by 10.0" in output  # the job's log lines, tailed by the SDK
    body = sdk_stack.s3().get_object(Bucket=BUCKET, Key=f"{unique}/processed/raw.csv")["Body"].read()
    assert body.decode().split() == ["10,20", "30,40"]


def test_estimator_fit_then_batch_transform(sdk_stack: SdkStack, tmp_path: Path, examples: Path,
                                           unique: str) -> None:
    pipeline_code = examples / "pipeline" / "code"
    lines = []
    for index in range(200):
        x1, x2 = ((index * 37) % 101 - 50) / 10, ((index * 53) % 97 - 48) / 10
        lines.append(f"{int(x1 + x2 > 0)},{x1},{x2}")
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "batch.csv").write_text("3.0,2.0\n-4.0,-1.5\n1.0,-3.0\n")
    script = f'''
import sagemaker
from sagemaker.estimator import Estimator

session = sagemaker.Session()
train = session.upload_data("train.csv", key_prefix="{unique}/train")
batch = session.upload_data("batch.csv", key_prefix="{unique}/batch")
estimator = Estimator(image_uri="{SKLEARN_IMAGE}", role="{ROLE}", instance_count=1, instance_type="ml.m5.large",
                      entry_point="train.py", source_dir="{pipeline_code}", hyperparameters={{"C": 10.0}},
                      base_job_name="{unique}", sagemaker_session=session)
estimator.fit({{"train": train}}, wait=True, logs=True)
print("MODEL", estimator.model_data)
package = estimator.register(content_types=["text/csv"], response_types=["text/csv"],
                             inference_instances=["ml.m5.large"], transform_instances=["ml.m5.large"],
                             model_package_group_name="grp-{unique}", approval_status="Approved")
print("PACKAGE", package.model_package_arn)

model = sagemaker.Model(image_uri="{SKLEARN_IMAGE}", model_data=estimator.model_data, role="{ROLE}",
                        entry_point="inference.py", source_dir="{pipeline_code}", sagemaker_session=session)
transformer = model.transformer(instance_count=1, instance_type="ml.m5.large", accept="text/csv",
                                assemble_with="Line", output_path="s3://{BUCKET}/{unique}/predictions")
transformer.transform(batch, content_type="text/csv", split_type="Line", wait=True, logs=False)
job = session.describe_transform_job(transformer.latest_transform_job.name)
print("TRANSFORM", job["TransformJobStatus"])
'''
    output = check(sdk_stack.run(script, tmp_path, timeout=600))
    assert "train_accuracy=" in output  # fit(logs=True) printed the job's own log lines
    assert "TRANSFORM Completed" in output
    model_data = output.split("MODEL ", 1)[1].split()[0]
    assert model_data.endswith("/output/model.tar.gz")
    sm = __import__("boto3").client("sagemaker", endpoint_url=sdk_stack.server.url, region_name="us-east-1",
                                    **sdk_stack.server.credentials)
    package = sm.describe_model_package(ModelPackageName=output.split("PACKAGE ", 1)[1].split()[0])
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == model_data
    card = json.loads(package["ModelCard"]["ModelCardContent"])  # register() found the job through Search
    job = sm.list_training_jobs(NameContains=unique)["TrainingJobSummaries"][0]
    assert card["training_details"]["training_job_details"]["training_arn"] == job["TrainingJobArn"]
    body = sdk_stack.s3().get_object(Bucket=BUCKET, Key=f"{unique}/predictions/batch.csv.out")["Body"]
    assert body.read().decode().split() == ["1", "0", "0"]
