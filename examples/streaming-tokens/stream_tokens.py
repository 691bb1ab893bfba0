"""Deploy the streaming text generator and read its tokens with boto3's EventStream as they arrive.

    pack model/ -> CreateModel -> CreateEndpointConfig -> CreateEndpoint -> InvokeEndpointWithResponseStream
    -> for event in response["Body"]: event["PayloadPart"]["Bytes"]
    -> the same with the sagemaker SDK's Predictor.predict_stream (when installed) -> clean up

Run it against a modelyard server after `eval "$(modelyard env)"`:

    python examples/streaming-tokens/stream_tokens.py
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
ROLE = "arn:aws:iam::000000000000:role/modelyard"
IMAGE = "modelyard/python:3.11"


def pack(model_dir: Path, directory: Path) -> str:
    """model_dir -> model.tar.gz in ``directory``; its file:// URI."""
    archive = directory / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for child in sorted(model_dir.iterdir()):
            tar.add(child, arcname=child.name)
    return archive.resolve().as_uri()


def wait_in_service(sm, name: str, timeout: float = 300) -> dict:  # type: ignore[no-untyped-def]
    """Poll DescribeEndpoint every second until the endpoint is InService or Failed."""
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] in ("InService", "Failed") or time.monotonic() > deadline:
            return described
        time.sleep(1)


def sdk_stream(name: str) -> str:
    """The same stream through the sagemaker SDK's ``Predictor.predict_stream`` (if it is installed)."""
    try:
        from sagemaker.iterators import ByteIterator
        from sagemaker.predictor import Predictor
        from sagemaker.serializers import JSONSerializer
    except ImportError:
        return "not installed"
    predictor = Predictor(name, serializer=JSONSerializer())
    return "".join(part.decode() for part in predictor.predict_stream({"delay": 0}, iterator=ByteIterator)).strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default=f"tokens-{uuid.uuid4().hex[:6]}")
    parser.add_argument("--artifacts", default=tempfile.mkdtemp(prefix="streaming-tokens-"),
                        help="a local directory for model.tar.gz")
    args = parser.parse_args()
    sm, runtime = boto3.client("sagemaker"), boto3.client("sagemaker-runtime")
    model_data = pack(HERE / "model", Path(args.artifacts))
    sm.create_model(ModelName=args.name, ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": IMAGE, "ModelDataUrl": model_data})
    sm.create_endpoint_config(EndpointConfigName=args.name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": args.name, "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=args.name, EndpointConfigName=args.name)
    try:
        described = wait_in_service(sm, args.name)
        print(f"1. endpoint {args.name}: {described['EndpointStatus']}", flush=True)
        if described["EndpointStatus"] != "InService":
            print(described.get("FailureReason"), file=sys.stderr)
            return 1
        started = time.monotonic()
        response = runtime.invoke_endpoint_with_response_stream(
            EndpointName=args.name, ContentType="application/json", Body=json.dumps({"delay": 0.1}).encode())
        first = None
        tokens = []
        for event in response["Body"]:
            token = event["PayloadPart"]["Bytes"].decode()
            first = first if first is not None else time.monotonic() - started
            tokens.append(token)
            print(token, end="", flush=True)
        total = time.monotonic() - started
        print()
        print(f"2. {len(tokens)} tokens; first after {first:.2f} s, all after {total:.2f} s")
        print(f"3. with the sagemaker SDK: {sdk_stream(args.name)}")
    finally:
        sm.delete_endpoint(EndpointName=args.name)
        sm.delete_endpoint_config(EndpointConfigName=args.name)
        sm.delete_model(ModelName=args.name)
        print(f"4. deleted endpoint {args.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
