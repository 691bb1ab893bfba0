"""The model registry flow with plain boto3: register a version, approve it, deploy from the package.

    pack model/ -> model.tar.gz -> CreateModelPackageGroup -> CreateModelPackage (PendingManualApproval)
    -> UpdateModelPackage (Approved) -> CreateModel(ModelPackageName=arn) -> endpoint -> invoke -> clean up

Run it against a modelyard server after `eval "$(modelyard env)"`:

    python examples/registry-flow/registry_flow.py                      # artifact on the local disk
    python examples/registry-flow/registry_flow.py --artifacts s3://bucket/prefix
"""

from __future__ import annotations

import argparse
import json
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
ROLE = "arn:aws:iam::000000000000:role/modelyard"
IMAGE = "modelyard/python:3.11"


def pack(model_dir: Path, destination: str) -> str:
    """model_dir -> model.tar.gz at ``destination`` (a local directory or an s3:// prefix); returns its URI."""
    scratch = Path(tempfile.mkdtemp(prefix="registry-flow-"))
    archive = scratch / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for child in sorted(model_dir.iterdir()):
            tar.add(child, arcname=child.name)
    if destination.startswith("s3://"):
        bucket, _, prefix = destination[len("s3://"):].partition("/")
        key = f"{prefix.rstrip('/')}/model.tar.gz".lstrip("/")
        s3 = boto3.client("s3")
        try:
            s3.head_bucket(Bucket=bucket)
        except s3.exceptions.ClientError:
            s3.create_bucket(Bucket=bucket)
        s3.upload_file(str(archive), bucket, key)
        return f"s3://{bucket}/{key}"
    target = Path(destination).resolve() / "model.tar.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    archive.replace(target)
    return target.as_uri()


def wait_in_service(sm, name: str, timeout: float = 300) -> dict:  # type: ignore[no-untyped-def]
    """Poll DescribeEndpoint (as boto3's endpoint_in_service waiter does, but every second)."""
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] in ("InService", "Failed") or time.monotonic() > deadline:
            return described
        time.sleep(1)


def main() -> None:
    """Register, approve, deploy, invoke, clean up; prints each step."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", default="registry-flow-demo")
    parser.add_argument("--artifacts", default=str(Path(tempfile.gettempdir()) / "registry-flow" / uuid.uuid4().hex))
    parser.add_argument("--keep", action="store_true", help="leave the endpoint running")
    args = parser.parse_args()
    sm, runtime = boto3.client("sagemaker"), boto3.client("sagemaker-runtime")

    model_data = pack(HERE / "model", args.artifacts)
    print(f"1. packed the model: {model_data}")
    try:
        sm.create_model_package_group(ModelPackageGroupName=args.group,
                                      ModelPackageGroupDescription="linear models")
    except sm.exceptions.ClientError as exc:
        if "already exists" not in str(exc):
            raise
    arn = sm.create_model_package(
        ModelPackageGroupName=args.group, ModelPackageDescription="weights v1",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={"Containers": [{"Image": IMAGE, "ModelDataUrl": model_data}],
                                "SupportedContentTypes": ["application/json"],
                                "SupportedResponseMIMETypes": ["application/json"]})["ModelPackageArn"]
    print(f"2. registered {arn}: {sm.describe_model_package(ModelPackageName=arn)['ModelApprovalStatus']}")

    pending = sm.list_model_packages(ModelPackageGroupName=args.group, ModelApprovalStatus="PendingManualApproval")
    print(f"3. waiting for approval: {[p['ModelPackageArn'] for p in pending['ModelPackageSummaryList']]}")
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved",
                            ApprovalDescription="checked by registry_flow.py")
    print(f"4. approved: {sm.describe_model_package(ModelPackageName=arn)['ModelApprovalStatus']}")

    name = f"{args.group}-{arn.rsplit('/', 1)[1]}-{uuid.uuid4().hex[:6]}"
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": arn}])
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_in_service(sm, name)
    print(f"5. endpoint {name}: {described['EndpointStatus']} {described.get('FailureReason', '')}".rstrip())
    try:
        if described["EndpointStatus"] != "InService":
            raise SystemExit(1)
        response = runtime.invoke_endpoint(EndpointName=name, ContentType="application/json",
                                           Body=json.dumps({"instances": [[1.0, 2.0], [3.0, 1.0]]}))
        print(f"6. prediction: {response['Body'].read().decode()}")
    finally:
        if not args.keep:
            sm.delete_endpoint(EndpointName=name)
            sm.delete_endpoint_config(EndpointConfigName=name)
            sm.delete_model(ModelName=name)
            print(f"7. deleted endpoint, endpoint config and model {name} (the package stays registered)")


if __name__ == "__main__":
    main()
