"""Data capture end to end: a real server, real boto3, capture files on disk (file://) and on moto (s3://)."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from tests.conftest import client_for
from tests.hosting.models import GENERIC_IMAGE, endpoint_pids, package, wait_for_status
from tests.support.moto_s3 import MotoS3Server, start_moto_s3
from tests.support.server import ServerProcess, start_server

ECHO = '''
def model_fn(model_dir):
    return None

def transform_fn(model, data, content_type, accept):
    if content_type == "text/csv":
        return data, "text/csv; charset=utf-8"
    return data, content_type
'''
ROLE = "arn:aws:iam::000000000000:role/modelyard"
CAPTURE_FILE = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})/(\d{2})-(\d{2})-(\d{3})-[0-9a-f-]{36}\.jsonl")
BOTH = [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
TYPES = {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, MotoS3Server]]:
    """moto S3 and a server that rotates capture files every second."""
    moto = start_moto_s3()
    server = start_server(tmp_path_factory.mktemp("capture"), env={
        "MODELYARD_CAPTURE_ROTATE_SECONDS": "1", "AWS_ENDPOINT_URL_S3": moto.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"})
    yield server, moto
    server.stop()
    moto.stop()


@pytest.fixture(scope="module")
def echo_data(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"file://{package(tmp_path_factory.mktemp('echo'), {'code/inference.py': ECHO})}"


def create_config(sm: Any, name: str, model: str, capture: dict[str, Any] | None) -> None:
    extra = {"DataCaptureConfig": capture} if capture else {}
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}], **extra)


def capture(destination: str, percentage: int = 100, **extra: Any) -> dict[str, Any]:
    return {"EnableCapture": True, "InitialSamplingPercentage": percentage, "DestinationS3Uri": destination,
            "CaptureOptions": BOTH, "CaptureContentTypeHeader": TYPES, **extra}


def deploy(sm: Any, name: str, model_data: str, config: dict[str, Any] | None) -> dict[str, Any]:
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": GENERIC_IMAGE,
                                                                             "ModelDataUrl": model_data})
    create_config(sm, name, name, config)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_for_status(sm, name)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return described


def update(sm: Any, endpoint: str, config_name: str, config: dict[str, Any] | None) -> dict[str, Any]:
    create_config(sm, config_name, endpoint, config)
    sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=config_name)
    time.sleep(0.2)
    described = wait_for_status(sm, endpoint, ("InService", "Failed"))
    assert described["EndpointStatus"] == "InService" and "FailureReason" not in described, described
    assert described["EndpointConfigName"] == config_name
    return described


def local_records(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Every capture file below ``root`` (relative path -> its records)."""
    return {path.relative_to(root).as_posix(): [json.loads(line) for line in path.read_text().splitlines()]
            for path in sorted(root.rglob("*.jsonl"))}


def wait_for_records(read: Any, count: int, timeout: float = 20.0) -> dict[str, list[dict[str, Any]]]:
    deadline = time.monotonic() + timeout
    while True:
        files = read()
        if sum(len(records) for records in files.values()) >= count or time.monotonic() > deadline:
            return files  # type: ignore[no-any-return]
        time.sleep(0.2)


def check_layout(relative: str, records: list[dict[str, Any]]) -> None:
    """``<endpoint>/<variant>/yyyy/mm/dd/hh/mm-ss-mmm-<uuid>.jsonl``, its hour that of its records."""
    match = CAPTURE_FILE.fullmatch(relative)
    assert match is not None, relative
    year, month, day, hour = match.group(1, 2, 3, 4)
    for record in records:
        assert record["eventMetadata"]["inferenceTime"].startswith(f"{year}-{month}-{day}T{hour}:"), (relative, record)


def test_full_sampling_captures_every_call_with_sagemaker_fields(stack, echo_data, tmp_path, unique):  # type: ignore[no-untyped-def]
    server, _ = stack
    sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
    destination = tmp_path / "capture"
    described = deploy(sm, unique, echo_data, capture(destination.as_uri()))
    assert described["DataCaptureConfig"] == {"EnableCapture": True, "CaptureStatus": "Started",
                                              "CurrentSamplingPercentage": 100,
                                              "DestinationS3Uri": destination.as_uri()}
    binary = bytes(range(256))
    calls = [("application/json", b'{"x": [1, 2]}', "id-json"), ("text/csv", b"1,2,3\n4,5,6", None),
             ("application/x-npy", binary, "id-binary")]
    for content_type, body, inference_id in calls:
        extra = {"InferenceId": inference_id} if inference_id else {}
        answer = runtime.invoke_endpoint(EndpointName=unique, ContentType=content_type, Body=body, **extra)
        assert answer["Body"].read() == body
    files = wait_for_records(lambda: local_records(destination), len(calls))
    records = [record for name, found in files.items() for record in found]
    assert len(records) == len(calls), files
    for name, found in files.items():
        assert name.startswith(f"{unique}/AllTraffic/")
        check_layout(name.split("/", 2)[2], found)
    by_input = {r["captureData"]["endpointInput"]["observedContentType"]: r for r in records}
    as_json = by_input["application/json"]
    assert as_json["eventVersion"] == "0"
    assert as_json["captureData"] == {
        "endpointInput": {"observedContentType": "application/json", "mode": "INPUT", "data": '{"x": [1, 2]}',
                          "encoding": "JSON"},
        "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT", "data": '{"x": [1, 2]}',
                           "encoding": "JSON"}}
    assert as_json["eventMetadata"]["inferenceId"] == "id-json"
    assert re.fullmatch(r"[0-9a-f-]{36}", as_json["eventMetadata"]["eventId"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", as_json["eventMetadata"]["inferenceTime"])
    as_csv = by_input["text/csv"]
    assert as_csv["captureData"]["endpointInput"] == {"observedContentType": "text/csv", "mode": "INPUT",
                                                      "data": "1,2,3\n4,5,6", "encoding": "CSV"}
    assert as_csv["captureData"]["endpointOutput"] == {"observedContentType": "text/csv; charset=utf-8",
                                                       "mode": "OUTPUT", "data": "1,2,3\n4,5,6", "encoding": "CSV"}
    assert "inferenceId" not in as_csv["eventMetadata"]
    as_binary = by_input["application/x-npy"]
    for payload in as_binary["captureData"].values():
        assert payload["encoding"] == "BASE64" and base64.b64decode(payload["data"]) == binary
    assert as_binary["eventMetadata"]["inferenceId"] == "id-binary"
    assert len({r["eventMetadata"]["eventId"] for r in records}) == len(records)

    described = update(sm, unique, f"{unique}-off", None)
    assert "DataCaptureConfig" not in described
    runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json", Body=b"{}")
    time.sleep(2.5)
    assert sum(len(found) for found in local_records(destination).values()) == len(calls)
    sm.delete_endpoint(EndpointName=unique)


def test_sampling_and_modes_follow_each_config(stack, echo_data, tmp_path, unique):  # type: ignore[no-untyped-def]
    server, _ = stack
    sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
    zero, half = tmp_path / "zero", tmp_path / "half"
    deploy(sm, unique, echo_data, capture(zero.as_uri(), 0))
    for _ in range(100):
        runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json", Body=b"{}")
    half_config = capture(half.as_uri(), 50, CaptureOptions=[{"CaptureMode": "Output"}])
    described = update(sm, unique, f"{unique}-half", half_config)
    assert not zero.exists() or not local_records(zero)
    assert described["DataCaptureConfig"]["CurrentSamplingPercentage"] == 50
    calls = 400
    for index in range(calls):
        runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json", Body=b'{"n": %d}' % index)
    disabled = {**half_config, "EnableCapture": False}
    described = update(sm, unique, f"{unique}-disabled", disabled)
    assert described["DataCaptureConfig"] == {"EnableCapture": False, "CaptureStatus": "Stopped",
                                              "CurrentSamplingPercentage": 50, "DestinationS3Uri": half.as_uri()}
    records = [record for found in local_records(half).values() for record in found]
    # Binomial(400, 0.5): mean 200, standard deviation 10; [100, 300] is ten deviations either side.
    assert 100 <= len(records) <= 300, len(records)
    for record in records:
        assert list(record["captureData"]) == ["endpointOutput"]
    assert len({r["captureData"]["endpointOutput"]["data"] for r in records}) == len(records)
    sm.delete_endpoint(EndpointName=unique)


def test_s3_destination_on_moto_and_delete_flushes(stack, echo_data, unique):  # type: ignore[no-untyped-def]
    server, moto = stack
    s3 = moto.client()
    s3.create_bucket(Bucket=unique)
    sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
    deploy(sm, unique, echo_data, capture(f"s3://{unique}/monitoring/capture/", 100,
                                          CaptureOptions=[{"CaptureMode": "InputAndOutput"}]))
    for index in range(5):
        runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json", Body=b"[%d]" % index,
                                InferenceId=f"inference-{index}")
    sm.delete_endpoint(EndpointName=unique)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=unique).get("Contents", [])]
    deadline = time.monotonic() + 60
    while not keys and time.monotonic() < deadline:
        time.sleep(0.2)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=unique).get("Contents", [])]
    records = []
    for key in keys:
        assert key.startswith(f"monitoring/capture/{unique}/AllTraffic/"), key
        found = [json.loads(line) for line in s3.get_object(Bucket=unique, Key=key)["Body"].read().splitlines()]
        check_layout(key.split("/", 4)[4], found)
        records += found
    assert sorted(r["eventMetadata"]["inferenceId"] for r in records) == [f"inference-{i}" for i in range(5)]
    assert sorted(r["captureData"]["endpointInput"]["data"] for r in records) == [f"[{i}]" for i in range(5)]


class Blackhole:
    """A TCP port that accepts connections and never answers: an S3 endpoint that hangs."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[Any] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def hanging_s3_env(hole: Blackhole) -> dict[str, str]:
    """Server settings for a capture queue of 4 records and 4 kB of waiting files, sealed every 0.5 s, with
    the S3 at ``hole``."""
    return {"MODELYARD_CAPTURE_ROTATE_SECONDS": "0.5", "MODELYARD_CAPTURE_QUEUE_RECORDS": "4",
            "MODELYARD_CAPTURE_QUEUE_BYTES": "4096", "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{hole.port}",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def tight_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose capture queue holds 4 records and 4 kB of waiting files, and whose S3 never answers."""
    hole = Blackhole()
    server = start_server(tmp_path_factory.mktemp("capture-tight"), env=hanging_s3_env(hole))
    yield server
    server.stop()
    hole.close()


def wait_for_log(server: ServerProcess, pattern: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while not re.search(pattern, server.log()):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {pattern!r} in the server log:\n{server.log()[-4000:]}")
        time.sleep(0.2)
    return server.log()


@pytest.mark.parametrize("where", ["hanging-s3", "unwritable-file"])
def test_a_stuck_destination_never_slows_or_fails_invocations(tight_server, echo_data, tmp_path, unique, where):  # type: ignore[no-untyped-def]
    sm = client_for(tight_server, "sagemaker")
    impatient = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=10, connect_timeout=5)
    import boto3

    runtime = boto3.client("sagemaker-runtime", endpoint_url=tight_server.url, region_name="us-east-1",
                           config=impatient, **tight_server.credentials)
    if where == "hanging-s3":
        destination = f"s3://{unique}/capture"
    else:
        blocker = tmp_path / "blocker"
        blocker.write_text("a file where the capture directory should be")
        destination = (blocker / "capture").as_uri()
    deploy(sm, unique, echo_data, capture(destination))
    body = b'{"payload": "%s"}' % (b"x" * 500)
    expected = [rf"data capture of endpoint {unique} dropped \d+ invocation"]
    if where == "unwritable-file":
        expected += [rf"data capture of endpoint {unique}: cannot store captured files at {re.escape(destination)}: ",
                     rf"data capture of endpoint {unique} paused: \d+ bytes wait for upload"]
    calls, deadline = 0, time.monotonic() + 120
    while calls < 200 or not all(re.search(pattern, tight_server.log()) for pattern in expected):
        assert time.monotonic() < deadline, f"{expected} not all in the log:\n{tight_server.log()[-4000:]}"
        answer = runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json", Body=body)
        assert answer["Body"].read() == body
        calls += 1
    pattern = rf"data capture of endpoint {unique} dropped (\d+) invocation"
    dropped = sum(int(n) for n in re.findall(pattern, wait_for_log(tight_server, pattern)))
    assert 0 < dropped < calls
    assert sm.describe_endpoint(EndpointName=unique)["DataCaptureConfig"]["CaptureStatus"] == "Started"
    sm.delete_endpoint(EndpointName=unique)


def test_records_staged_when_the_server_is_killed_are_stored_later(echo_data, tmp_path, unique):  # type: ignore[no-untyped-def]
    data_dir, destination = tmp_path / "data", tmp_path / "capture"
    env = {"MODELYARD_CAPTURE_ROTATE_SECONDS": "3600"}
    server = start_server(data_dir, env=env)
    try:
        sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
        deploy(sm, unique, echo_data, capture(destination.as_uri()))
        for index in range(5):
            runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json", Body=b"[%d]" % index)
        staged = data_dir / "capture"
        deadline = time.monotonic() + 10
        while sum(len(p.read_bytes().splitlines()) for p in staged.rglob("*.jsonl")) < 5:
            assert time.monotonic() < deadline, "the writer did not stage the records"
            time.sleep(0.1)
        with open(next(staged.rglob("*.jsonl")), "ab") as handle:
            handle.write(b'{"captureData": {"endpointInput"')  # a record cut short by the kill
        server.process.kill()
        server.process.wait()
        assert not destination.exists()
    finally:
        server.stop()
    server = start_server(data_dir, env=env)
    try:
        files = wait_for_records(lambda: local_records(destination), 5)
        records = [record for found in files.values() for record in found]
        assert sorted(r["captureData"]["endpointInput"]["data"] for r in records) == [f"[{i}]" for i in range(5)]
        assert all(name.startswith(f"{unique}/AllTraffic/") for name in files)
        assert not list((data_dir / "capture").rglob("*.jsonl"))
        client_for(server, "sagemaker").delete_endpoint(EndpointName=unique)
    finally:
        server.stop()


def test_capture_pauses_when_the_disk_is_nearly_full(echo_data, tmp_path, unique):  # type: ignore[no-untyped-def]
    server = start_server(tmp_path / "data", env={"MODELYARD_CAPTURE_MIN_FREE_BYTES": str(10 ** 18),
                                                  "MODELYARD_CAPTURE_QUEUE_RECORDS": "4"})
    try:
        sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
        destination = tmp_path / "capture"
        deploy(sm, unique, echo_data, capture(destination.as_uri()))
        for _ in range(20):
            runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json", Body=b"{}")
        log = wait_for_log(server, rf"data capture of endpoint {unique} dropped \d+ invocation")
        assert re.search(rf"data capture of endpoint {unique} paused: the server's disk has \d+ bytes free", log)
        sm.delete_endpoint(EndpointName=unique)
        wait_for_log(server, rf"data capture of endpoint {unique}: 4 captured record\(s\) were never written: "
                             "capture was paused")
    finally:
        server.stop()


def test_stopping_the_server_does_not_wait_out_a_deleted_endpoints_capture_flush(echo_data, tmp_path, unique):  # type: ignore[no-untyped-def]
    hole = Blackhole()
    server = start_server(tmp_path / "data", env=hanging_s3_env(hole))
    try:
        sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
        deploy(sm, unique, echo_data, capture(f"s3://{unique}/capture"))
        deadline = time.monotonic() + 30
        while not hole.held:
            assert time.monotonic() < deadline, "the capture writer never tried to upload"
            runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json", Body=b"{}")
        sm.delete_endpoint(EndpointName=unique)
        while endpoint_pids(unique):
            assert time.monotonic() < deadline, "the deleted endpoint's instance kept running"
            time.sleep(0.1)
        stopping = time.monotonic()
        server.process.terminate()
        server.process.wait(25)
        assert time.monotonic() - stopping < 15, "the shutdown waited for the delete's 30 s capture flush"
        assert re.search(rf"data capture of endpoint {unique}: still uploading to s3://{unique}/capture", server.log())
    finally:
        server.stop()
        hole.close()
