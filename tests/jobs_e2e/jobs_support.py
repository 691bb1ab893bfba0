"""What the training and processing end-to-end tests share: one moto S3 + one modelyard server for the
whole run (started on first use, stopped at exit), source-dir packaging, and waiting for jobs.

The server's data dir is under /var/tmp, which the sandbox does not hide (the restart test uses a
second server under /tmp, where job environments must be bound into the sandbox).
"""

from __future__ import annotations

import atexit
import io
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import client_for
from tests.support.moto_s3 import MotoS3Server, start_moto_s3
from tests.support.server import ServerProcess, start_server

ROLE = "arn:aws:iam::000000000000:role/modelyard"
BUCKET = "jobs-data"
GENERIC_IMAGE = "modelyard/python:3.11"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
TERMINAL = ("Completed", "Failed", "Stopped")


@dataclass
class Stack:
    """The shared moto S3 and modelyard server."""

    moto: MotoS3Server
    server: ServerProcess
    root: Path

    def client(self, service: str) -> Any:
        """A boto3 client of the modelyard server."""
        return client_for(self.server, service)

    def s3(self) -> Any:
        """A boto3 S3 client of moto."""
        return self.moto.client()


_STACK: list[Stack] = []


def server_env(moto: MotoS3Server) -> dict[str, str]:
    """Environment pointing a server's S3 at moto."""
    return {"AWS_ENDPOINT_URL_S3": moto.endpoint_url, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def stack() -> Stack:
    """The shared stack, started on first use."""
    if not _STACK:
        root = Path(tempfile.mkdtemp(prefix="modelyard-jobs-", dir="/var/tmp"))
        moto = start_moto_s3(log_dir=root / "moto")
        moto.client().create_bucket(Bucket=BUCKET)
        server = start_server(root / "server", env=server_env(moto))
        _STACK.append(Stack(moto, server, root))
        atexit.register(_stop)
    return _STACK[0]


def _stop() -> None:
    for item in _STACK:
        item.server.stop()
        item.moto.stop()
        shutil.rmtree(item.root, ignore_errors=True)


def sourcedir(files: dict[str, str]) -> bytes:
    """A sourcedir.tar.gz holding ``files`` (relative path -> text), as the SDK uploads it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def read_tarball(data: bytes) -> dict[str, bytes]:
    """The files of a tar.gz, by name."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def put(s3: Any, key: str, data: bytes | str) -> str:
    """Store an object in the test bucket; its s3:// URI."""
    s3.put_object(Bucket=BUCKET, Key=key, Body=data.encode() if isinstance(data, str) else data)
    return f"s3://{BUCKET}/{key}"


def training_request(name: str, *, program: str, submit: str, output: str, image: str = GENERIC_IMAGE,
                     channels: dict[str, str] | None = None, hyperparameters: dict[str, str] | None = None,
                     max_runtime: int = 600, **extra: Any) -> dict[str, Any]:
    """A CreateTrainingJob request shaped as the sagemaker SDK's Estimator.fit sends it."""
    hps = {"sagemaker_program": f'"{program}"', "sagemaker_submit_directory": f'"{submit}"',
           "sagemaker_container_log_level": "20", "sagemaker_job_name": f'"{name}"',
           "sagemaker_region": '"us-east-1"', **(hyperparameters or {})}
    request: dict[str, Any] = {
        "TrainingJobName": name, "RoleArn": ROLE, "HyperParameters": hps,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": output},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }
    if channels:
        request["InputDataConfig"] = [{"ChannelName": channel, "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}
            for channel, uri in channels.items()]
    request.update(extra)
    return request


def wait_training(sm: Any, name: str, timeout: float = 120.0, statuses: tuple[str, ...] = TERMINAL) -> dict[str, Any]:
    """Poll DescribeTrainingJob until TrainingJobStatus is one of ``statuses``."""
    return _wait(lambda: sm.describe_training_job(TrainingJobName=name), "TrainingJobStatus", statuses, timeout)


def wait_processing(sm: Any, name: str, timeout: float = 120.0,
                    statuses: tuple[str, ...] = TERMINAL) -> dict[str, Any]:
    """Poll DescribeProcessingJob until ProcessingJobStatus is one of ``statuses``."""
    return _wait(lambda: sm.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus", statuses,
                 timeout)


def wait_secondary(sm: Any, name: str, secondary: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll DescribeTrainingJob until SecondaryStatus is ``secondary``."""
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_training_job(TrainingJobName=name)
        if described["SecondaryStatus"] == secondary:
            return described  # type: ignore[no-any-return]
        if described["TrainingJobStatus"] in TERMINAL or time.monotonic() > deadline:
            raise AssertionError(f"{name} never reached {secondary}: {described['TrainingJobStatus']} / "
                                 f"{described['SecondaryStatus']} {described.get('FailureReason', '')}")
        time.sleep(0.1)


def _wait(describe: Any, field: str, statuses: tuple[str, ...], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = describe()
        if described[field] in statuses:
            return described  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"job still {described[field]} after {timeout}s")
        time.sleep(0.1)


def log_lines(logs: Any, group: str, job: str) -> list[str]:
    """Every message of the job's log streams (streams whose names start with the job name)."""
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job}/")["logStreams"]
    lines = []
    for stream in streams:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                                     startFromHead=True)["events"]
        lines += [event["message"] for event in events]
    return lines
