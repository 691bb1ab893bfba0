"""Multi-instance jobs end to end (real boto3, a real server, real sandboxes on a job network, moto S3):
training and processing hosts algo-1 … algo-N that see SageMaker's resourceconfig and SM_* variables,
resolve and reach each other, get sharded channels, fail and stop together, and reach nothing else;
batch transform partitioning files across instances; InstanceCount refused beyond this machine."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError

from tests.hosting.models import package
from tests.jobs_e2e.jobs_support import (
    BUCKET,
    Stack,
    put,
    read_tarball,
    sourcedir,
    stack,
    wait_processing,
    wait_secondary,
    wait_training,
)
from tests.jobs_e2e.multihost_scripts import (
    HOST_SCRIPT,
    check_sharded_processing,
    sharded_talk,
    start_sharded_processing,
    two_hosts,
)
from tests.jobs_e2e.transform_env import MODEL, create_model, transform_request, wait_for_job

pytestmark = pytest.mark.slow
GROUP = "/aws/sagemaker/TrainingJobs"


@pytest.fixture(scope="module")
def jobs() -> Stack:
    return stack()


@pytest.fixture()
def sm(jobs: Stack) -> Any:
    return jobs.client("sagemaker")


@pytest.fixture(scope="module")
def host_source(jobs: Stack) -> str:
    return put(jobs.s3(), "code/multihost/sourcedir.tar.gz", sourcedir({"host.py": HOST_SCRIPT}))


def model_of(jobs: Stack, name: str) -> dict[str, Any]:
    body = jobs.s3().get_object(Bucket=BUCKET, Key=f"mh-out/{name}/output/model.tar.gz")["Body"].read()
    return json.loads(read_tarball(body)["reports.json"])  # type: ignore[no-any-return]


def error_of(call: Any, **request: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**request)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_two_hosts_see_their_config_talk_by_name_and_get_their_shards(jobs, sm, host_source, unique):  # type: ignore[no-untyped-def]
    sm.create_training_job(**sharded_talk(jobs.s3(), unique, host_source, ("a", "b")))
    described = wait_training(sm, unique, timeout=240)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")

    model = model_of(jobs, unique)
    assert model["written_by"] == "algo-1"
    reports = {report["host"]: report for report in model["reports"]}
    assert sorted(reports) == ["algo-1", "algo-2"]
    for index, host in enumerate(["algo-1", "algo-2"]):
        report = reports[host]
        assert report["hostname"] == host
        assert report["address"] == f"10.0.1.{index + 2}"
        assert report["resource"] == {
            "current_host": host, "current_instance_type": "ml.m5.large", "current_group_name": "homogeneousCluster",
            "hosts": ["algo-1", "algo-2"], "network_interface_name": "eth0",
            "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": "ml.m5.large",
                                 "hosts": ["algo-1", "algo-2"]}]}
        env = report["env"]
        assert json.loads(env["SM_HOSTS"]) == ["algo-1", "algo-2"]
        assert env["SM_CURRENT_HOST"] == host
        assert env["SM_NETWORK_INTERFACE_NAME"] == "eth0"
        assert env["SM_CURRENT_INSTANCE_TYPE"] == "ml.m5.large"
        assert int(env["SM_NUM_CPUS"]) >= 1 and env["SM_NUM_GPUS"] == "0"
        assert {k for k in report["files"] if k.startswith("shared/")} == {"shared/a.csv", "shared/b.csv"}
    shards = {host: sorted(k for k in reports[host]["files"] if k.startswith("sharded/")) for host in reports}
    assert shards == {"algo-1": ["sharded/part-0.csv", "sharded/part-2.csv", "sharded/part-4.csv"],
                      "algo-2": ["sharded/part-1.csv", "sharded/part-3.csv"]}

    logs = jobs.client("logs")
    streams = sorted(s["logStreamName"] for s in logs.describe_log_streams(
        logGroupName=GROUP, logStreamNamePrefix=f"{unique}/")["logStreams"])
    assert [s.rsplit("-", 1)[0] for s in streams] == [f"{unique}/algo-1", f"{unique}/algo-2"]
    for stream, host in zip(streams, ["algo-1", "algo-2"], strict=True):
        events = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)["events"]
        assert any(e["message"] == f"{host} done with 1 peers" for e in events)
    assert described["FinalMetricDataList"][0]["Value"] == 1.0
    cloudwatch, now = jobs.client("cloudwatch"), time.time()
    for host, score in (("algo-1", 1.0), ("algo-2", 2.0)):
        deadline = time.monotonic() + 10
        while True:
            points = cloudwatch.get_metric_statistics(
                Namespace=GROUP, MetricName="score", Period=3600, Statistics=["Maximum"], StartTime=now - 1800,
                EndTime=now + 1800, Dimensions=[{"Name": "Host", "Value": f"{unique}/{host}"}])["Datapoints"]
            if points or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert points and points[0]["Maximum"] == score


def test_one_failing_host_fails_the_job_with_its_reason_and_stops_the_others(sm, host_source, unique):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    sm.create_training_job(**two_hosts(unique, host_source, "fail-2"))
    described = wait_training(sm, unique, timeout=240)
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("AlgorithmError: algo-2: ExecuteUserScriptError"), reason
    assert "ValueError: algo-2 broke on purpose" in reason
    assert time.monotonic() - started < 200
    assert "ModelArtifacts" not in described


def test_stop_stops_every_host_and_other_jobs_cannot_reach_them(jobs, sm, host_source, unique):  # type: ignore[no-untyped-def]
    listener = f"{unique}-listen"
    sm.create_training_job(**two_hosts(listener, host_source, "listen", hyperparameters={"port": "7501"}))
    wait_secondary(sm, listener, "Training", timeout=240)
    time.sleep(2)
    prober = f"{unique}-reach"
    port = urlparse(jobs.server.url).port
    targets = f"10.0.1.2:7501,10.0.1.3:7501,10.0.2.2:{port},127.0.0.1:{port}"
    sm.create_training_job(**two_hosts(prober, host_source, "reach", hyperparameters={"targets": targets}))
    described = wait_training(sm, prober, timeout=240)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert sm.describe_training_job(TrainingJobName=listener)["TrainingJobStatus"] == "InProgress"
    for report in model_of(jobs, prober)["reports"]:
        assert report["reached"]["10.0.1.2:7501"] == "ConnectionRefusedError", report["reached"]
        assert report["reached"]["10.0.1.3:7501"] == "ConnectionRefusedError", report["reached"]
        assert "connected" not in report["reached"].values(), report["reached"]

    sm.stop_training_job(TrainingJobName=listener)
    stopped = wait_training(sm, listener, timeout=120)
    assert stopped["TrainingJobStatus"] == "Stopped"


def test_network_isolation_keeps_the_hosts_together_and_everything_else_out(jobs, sm, host_source, unique):  # type: ignore[no-untyped-def]
    port = urlparse(jobs.server.url).port
    targets = f"10.0.2.2:{port},127.0.0.1:{port},1.1.1.1:80"
    request = two_hosts(unique, host_source, "reach", hyperparameters={"targets": targets},
                        EnableNetworkIsolation=True)
    sm.create_training_job(**request)
    described = wait_training(sm, unique, timeout=240)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    for report in model_of(jobs, unique)["reports"]:
        assert "connected" not in report["reached"].values(), report["reached"]


def test_processing_on_two_instances_shards_inputs_and_uploads_every_hosts_output(jobs, sm, unique):  # type: ignore[no-untyped-def]
    start_sharded_processing(jobs.s3(), sm, unique)
    described = wait_processing(sm, unique, timeout=240)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    check_sharded_processing(jobs.s3(), unique)


def test_transform_on_two_instances_gives_each_file_to_one_instance(jobs, sm, unique, tmp_path):  # type: ignore[no-untyped-def]
    s3 = jobs.s3()
    artifact = package(tmp_path, {"weights.json": json.dumps({"scale": 1}), "code/inference.py": MODEL})
    create_model(sm, unique, artifact)
    for index in range(6):
        put(s3, f"{unique}/in/file-{index}.txt", "\n".join(["env:MODELYARD_INSTANCE_ID"] * 40) + "\n")
    sm.create_transform_job(**transform_request(
        unique, unique, f"s3://{BUCKET}/{unique}/in/", f"s3://{BUCKET}/{unique}/out", content_type="text/plain",
        accept="text/csv", strategy="SingleRecord", MaxConcurrentTransforms=2,
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 2}))
    described = wait_for_job(sm, unique, timeout=240)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    owners = []
    for index in range(6):
        body = s3.get_object(Bucket=BUCKET, Key=f"{unique}/out/file-{index}.txt.out")["Body"].read().decode()
        instances = set(body.split())
        assert len(instances) == 1, f"file-{index} was split across instances {instances}"
        owners.append(instances.pop())
    assert len(set(owners)) == 2
    assert owners[0::2] == [owners[0]] * 3 and owners[1::2] == [owners[1]] * 3


@pytest.mark.parametrize("count, instance_type, words", [
    (64, "ml.m5.large", "needs 64 cores (one per instance at least), but this machine has"),
    (2, "ml.m5.24xlarge", "ResourceConfig.InstanceCount 2 of ml.m5.24xlarge needs 768 GiB of memory (2 x 384 GiB)"),
])
def test_training_instance_count_beyond_this_machine_is_refused(sm, host_source, unique, count, instance_type,  # type: ignore[no-untyped-def]
                                                                words):
    request = two_hosts(unique, host_source, "talk")
    request["ResourceConfig"].update(InstanceCount=count, InstanceType=instance_type)
    code, message = error_of(sm.create_training_job, **request)
    assert code == "ValidationException" and words in message, message
    if count == 64:
        return
    assert "use at most" in message


def test_processing_and_transform_instance_count_beyond_this_machine_is_refused(sm, unique, tmp_path):  # type: ignore[no-untyped-def]
    code, message = error_of(
        sm.create_processing_job, ProcessingJobName=unique, RoleArn="arn:aws:iam::000000000000:role/modelyard",
        AppSpecification={"ImageUri": "modelyard/python:3.11", "ContainerEntrypoint": ["python3", "x.py"]},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 99, "InstanceType": "ml.m5.large",
                                               "VolumeSizeInGB": 5}})
    assert code == "ValidationException"
    assert "ProcessingResources.ClusterConfig.InstanceCount 99" in message
    create_model(sm, unique, package(tmp_path, {"weights.json": json.dumps({"scale": 1}), "code/inference.py": MODEL}))
    code, message = error_of(sm.create_transform_job, **transform_request(
        unique, unique, f"s3://{BUCKET}/in/", f"s3://{BUCKET}/out", content_type="text/plain",
        accept="text/csv", TransformResources={"InstanceType": "ml.m5.24xlarge", "InstanceCount": 2}))
    assert code == "ValidationException" and "TransformResources.InstanceCount 2 of ml.m5.24xlarge" in message
