"""Training -> real-time endpoint -> batch transform, with plain boto3 against modelyard.

    upload data + sourcedir.tar.gz to S3 -> CreateTrainingJob (script mode, scikit-learn image)
    -> wait, print the job's log lines -> CreateModel from the job's model.tar.gz
    -> CreateEndpoint, invoke -> CreateTransformJob over a CSV file -> print the .out file -> clean up

Needs an S3 (MinIO, moto or AWS S3) that both this script and the modelyard server reach:

    eval "$(modelyard env --s3-endpoint http://127.0.0.1:9000)"
    python examples/pipeline/pipeline.py --bucket modelyard
"""

from __future__ import annotations

import argparse
import io
import json
import tarfile
import time
import uuid
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
ROLE = "arn:aws:iam::000000000000:role/modelyard"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
DONE = ("Completed", "Failed", "Stopped")


def training_csv(rows: int = 200) -> str:
    """A separable data set: label, x1, x2 with label 1 when x1 + x2 > 0."""
    lines = []
    for index in range(rows):
        x1, x2 = ((index * 37) % 101 - 50) / 10, ((index * 53) % 97 - 48) / 10
        lines.append(f"{int(x1 + x2 > 0)},{x1},{x2}")
    return "\n".join(lines) + "\n"


def sourcedir() -> bytes:
    """code/ as sourcedir.tar.gz, the way the sagemaker SDK uploads an estimator's source_dir."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted((HERE / "code").glob("*.py")):
            tar.add(path, arcname=path.name)
    return buffer.getvalue()


def wait(describe, key: str, timeout: float = 900) -> dict:  # type: ignore[no-untyped-def]
    """Poll a Describe* call until ``key`` is final."""
    deadline = time.monotonic() + timeout
    while True:
        described = describe()
        if described[key] in DONE + ("InService",) or time.monotonic() > deadline:
            return described
        time.sleep(2)


def job_log(logs, group: str, job: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The job's log lines (its streams are named <job>/...)."""
    events = logs.filter_log_events(logGroupName=group, logStreamNamePrefix=f"{job}/")["events"]
    return [event["message"] for event in events]


def main() -> None:
    """Run the pipeline and print what each step produced."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", default="modelyard")
    parser.add_argument("--keep", action="store_true", help="leave the endpoint running")
    args = parser.parse_args()
    sm, runtime, logs, s3 = (boto3.client(s) for s in ("sagemaker", "sagemaker-runtime", "logs", "s3"))
    run = f"pipeline-{uuid.uuid4().hex[:8]}"
    base = f"s3://{args.bucket}/{run}"
    try:
        s3.head_bucket(Bucket=args.bucket)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=args.bucket)
    s3.put_object(Bucket=args.bucket, Key=f"{run}/data/train/train.csv", Body=training_csv().encode())
    s3.put_object(Bucket=args.bucket, Key=f"{run}/source/sourcedir.tar.gz", Body=sourcedir())
    s3.put_object(Bucket=args.bucket, Key=f"{run}/batch/input.csv", Body=b"3.0,2.0\n-4.0,-1.5\n1.0,-3.0\n0.5,0.6\n")

    sm.create_training_job(
        TrainingJobName=run, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={"C": "10.0", "sagemaker_program": '"train.py"',
                         "sagemaker_submit_directory": json.dumps(f"{base}/source/sourcedir.tar.gz")},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"{base}/data/train", "S3DataDistributionType": "FullyReplicated"}}}],
        OutputDataConfig={"S3OutputPath": f"{base}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 900})
    job = wait(lambda: sm.describe_training_job(TrainingJobName=run), "TrainingJobStatus")
    print(f"1. training job {run}: {job['TrainingJobStatus']} {job.get('FailureReason', '')}".rstrip())
    for line in job_log(logs, "/aws/sagemaker/TrainingJobs", run)[-3:]:
        print(f"   | {line}")
    if job["TrainingJobStatus"] != "Completed":
        raise SystemExit(1)
    model_data = job["ModelArtifacts"]["S3ModelArtifacts"]
    print(f"   model: {model_data}")

    sm.create_model(ModelName=run, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": IMAGE, "ModelDataUrl": model_data,
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}})
    sm.create_endpoint_config(EndpointConfigName=run, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": run, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=run, EndpointConfigName=run)
    try:
        endpoint = wait(lambda: sm.describe_endpoint(EndpointName=run), "EndpointStatus")
        print(f"2. endpoint {run}: {endpoint['EndpointStatus']} {endpoint.get('FailureReason', '')}".rstrip())
        if endpoint["EndpointStatus"] != "InService":
            raise SystemExit(1)
        answer = runtime.invoke_endpoint(EndpointName=run, ContentType="application/json",
                                         Body=json.dumps({"instances": [[3.0, 2.0], [-4.0, -1.5]]}))
        print(f"   prediction: {answer['Body'].read().decode()}")
    finally:
        if not args.keep:
            sm.delete_endpoint(EndpointName=run)
            sm.delete_endpoint_config(EndpointConfigName=run)

    sm.create_transform_job(
        TransformJobName=run, ModelName=run,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"{base}/batch/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"{base}/batch-output", "Accept": "text/csv", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    transform = wait(lambda: sm.describe_transform_job(TransformJobName=run), "TransformJobStatus")
    print(f"3. transform job {run}: {transform['TransformJobStatus']} {transform.get('FailureReason', '')}".rstrip())
    if transform["TransformJobStatus"] != "Completed":
        raise SystemExit(1)
    output = s3.get_object(Bucket=args.bucket, Key=f"{run}/batch-output/input.csv.out")["Body"].read().decode()
    print(f"   {base}/batch-output/input.csv.out: {output.split()}")
    if not args.keep:
        sm.delete_model(ModelName=run)


if __name__ == "__main__":
    main()
