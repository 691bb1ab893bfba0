"""The built-in XGBoost algorithm, as boto3 drives it: an XGBoost image with no script trains from CSV or
libsvm channels (hyperparameters -> booster, ``validation:rmse`` metrics from the per-round log lines), and
its ``xgboost-model`` is served by the container's default handlers (csv / libsvm in; csv / json out)."""

from __future__ import annotations

import io
import json
import random
import tarfile
from collections.abc import Iterator
from typing import Any

import numpy
import pytest
from botocore.exceptions import ClientError

from tests.hosting.models import wait_for_status
from tests.jobs_e2e.jobs_support import BUCKET, ROLE, Stack, log_lines, put, read_tarball, stack, wait_training
from tests.jobs_e2e.transform_env import wait_for_job

pytestmark = pytest.mark.slow
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def rows(count: int, seed: int) -> list[tuple[float, float, float]]:
    """``(label, x1, x2)`` with label = 2 x1 + x2."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        x1, x2 = rng.uniform(-1, 1), rng.uniform(-1, 1)
        out.append((round(2 * x1 + x2, 4), round(x1, 4), round(x2, 4)))
    return out


def as_csv(data: list[tuple[float, float, float]]) -> str:
    return "".join(f"{y},{a},{b}\n" for y, a, b in data)


def as_libsvm(data: list[tuple[float, float, float]]) -> str:
    return "".join(f"{y} 0:{a} 1:{b}\n" for y, a, b in data)


def algorithm_request(name: str, channels: dict[str, tuple[str, str]], hyperparameters: dict[str, str],
                      **extra: Any) -> dict[str, Any]:
    """CreateTrainingJob as ``Estimator(image_uri=<xgboost>)`` sends it: no sagemaker_program."""
    request: dict[str, Any] = {
        "TrainingJobName": name, "RoleArn": ROLE, "HyperParameters": hyperparameters,
        "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/{name}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "InputDataConfig": [{"ChannelName": channel, "ContentType": content_type, "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}
            for channel, (uri, content_type) in channels.items()],
    }
    request.update(extra)
    return request


def create_endpoint(sm: Any, name: str, model_data: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": XGBOOST_IMAGE, "ModelDataUrl": model_data, "Environment": env or {}})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return wait_for_status(sm, name, timeout=300)


@pytest.fixture(scope="module")
def trained() -> Iterator[tuple[Stack, dict[str, Any]]]:
    """One CSV training job (train + validation), deployed once."""
    jobs = stack()
    sm, s3 = jobs.client("sagemaker"), jobs.s3()
    name = f"xgb-csv-{random.randrange(16**8):08x}"
    train = put(s3, f"{name}/train/train.csv", as_csv(rows(120, 1)))
    validation = put(s3, f"{name}/validation/validation.csv", as_csv(rows(40, 2)))
    sm.create_training_job(**algorithm_request(
        name, {"train": (train, "text/csv"), "validation": (validation, "text/csv")},
        {"num_round": "8", "objective": "reg:squarederror", "max_depth": "3", "eta": "0.5", "eval_metric": "rmse"}))
    described = wait_training(sm, name, timeout=540)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    endpoint = create_endpoint(sm, name, described["ModelArtifacts"]["S3ModelArtifacts"])
    assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")
    yield jobs, described
    sm.delete_endpoint(EndpointName=name)


def test_training_reports_metrics_and_saves_xgboost_model(trained) -> None:  # type: ignore[no-untyped-def]
    jobs, described = trained
    name = described["TrainingJobName"]
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert set(metrics) == {"train:rmse", "validation:rmse"}
    assert 0 < metrics["train:rmse"] < 0.5
    lines = log_lines(jobs.client("logs"), "/aws/sagemaker/TrainingJobs", name)
    assert any(line.startswith("[7]#011train-rmse:") and "#011validation-rmse:" in line for line in lines)
    files = read_tarball(jobs.s3().get_object(Bucket=BUCKET, Key=f"{name}/output/{name}/output/model.tar.gz")
                         ["Body"].read())
    assert set(files) == {"xgboost-model"}


def test_csv_libsvm_and_recordio_requests_predict_the_same(trained) -> None:  # type: ignore[no-untyped-def]
    jobs, described = trained
    runtime = jobs.client("sagemaker-runtime")
    name = described["TrainingJobName"]
    by_csv = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body="0.5,0.5\n-0.5,-0.5")
    assert by_csv["ContentType"] == "text/csv"  # the container's default Accept
    csv_values = [float(v) for v in by_csv["Body"].read().decode().split()]
    assert csv_values[0] > 1.0 > -1.0 > csv_values[1]
    by_libsvm = runtime.invoke_endpoint(EndpointName=name, ContentType="text/libsvm", Accept="application/json",
                                        Body="1:0.5 2:0.5\n1:-0.5 2:-0.5")
    assert by_libsvm["ContentType"] == "application/json"
    assert json.loads(by_libsvm["Body"].read()) == {"predictions": [{"score": v} for v in csv_values]}
    from sagemaker.amazon.common import write_numpy_to_dense_tensor

    buffer = io.BytesIO()
    write_numpy_to_dense_tensor(buffer, numpy.array([[0.5, 0.5], [-0.5, -0.5]], dtype="float32"))
    by_recordio = runtime.invoke_endpoint(EndpointName=name, ContentType="application/x-recordio-protobuf",
                                          Accept="application/jsonlines", Body=buffer.getvalue())
    assert [json.loads(line)["score"] for line in by_recordio["Body"].read().decode().splitlines()] == csv_values


def test_batch_transform_writes_one_prediction_per_line(trained, unique) -> None:  # type: ignore[no-untyped-def]
    jobs, described = trained
    sm, s3 = jobs.client("sagemaker"), jobs.s3()
    source = put(s3, f"{unique}/in/rows.csv", "0.5,0.5\n-0.5,-0.5\n0,0\n")
    sm.create_transform_job(
        TransformJobName=unique, ModelName=described["TrainingJobName"], BatchStrategy="MultiRecord",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/{unique}/out", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    done = wait_for_job(sm, unique, timeout=300)
    assert done["TransformJobStatus"] == "Completed", done.get("FailureReason")
    output = s3.get_object(Bucket=BUCKET, Key=f"{unique}/out/rows.csv.out")["Body"].read().decode()
    values = [float(line) for line in output.split()]
    assert len(values) == 3 and values[0] > values[2] > values[1]


@pytest.mark.parametrize(("content_type", "accept", "body", "status", "message"), [
    ("text/csv", "text/csv", "0.5,0.5\n1,2,3", 415, "row 2 has 3 values, row 1 has 2"),
    ("text/csv", "text/csv", "0.5,abc", 415, "please ensure data is in csv format"),
    ("application/json", "text/csv", "[[0.5, 0.5]]", 415, "reads text/csv, text/libsvm"),
    ("application/x-recordio-protobuf", "text/csv", "\x00", 415, "truncated RecordIO header at byte 0"),
    ("text/csv", "text/csv", "1,2,3,4,5", 400, "Unable to evaluate payload provided"),
    ("text/csv", "image/png", "0.5,0.5", 406, "Accept type image/png is not supported"),
])
def test_bad_requests_are_model_errors(trained, content_type, accept, body, status, message) -> None:  # type: ignore[no-untyped-def]
    jobs, described = trained
    with pytest.raises(ClientError) as info:
        jobs.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=described["TrainingJobName"], ContentType=content_type, Accept=accept, Body=body)
    error = info.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["OriginalStatusCode"] == status
    assert message in error["Error"]["Message"]


def test_libsvm_training_with_early_stopping(unique) -> None:  # type: ignore[no-untyped-def]
    jobs = stack()
    sm, s3 = jobs.client("sagemaker"), jobs.s3()
    train = put(s3, f"{unique}/train/part-0", as_libsvm(rows(80, 3)))
    validation = put(s3, f"{unique}/validation/part-0", as_libsvm(rows(30, 4)))
    sm.create_training_job(**algorithm_request(
        unique, {"train": (train, "text/libsvm"), "validation": (validation, "text/x-libsvm")},
        {"num_round": "6", "early_stopping_rounds": "2", "objective": "reg:squarederror", "max_depth": "2",
         "_tuning_objective_metric": "validation:mae"}))
    described = wait_training(sm, unique, timeout=300)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert {m["MetricName"] for m in described["FinalMetricDataList"]} >= {"validation:mae", "train:mae"}


def test_recordio_protobuf_training(unique) -> None:  # type: ignore[no-untyped-def]
    from sagemaker.amazon.common import write_numpy_to_dense_tensor

    jobs = stack()
    sm = jobs.client("sagemaker")
    data = numpy.array(rows(60, 6), dtype="float32")
    buffer = io.BytesIO()
    write_numpy_to_dense_tensor(buffer, data[:, 1:], labels=data[:, 0])
    train = put(jobs.s3(), f"{unique}/train/data.rec", buffer.getvalue())
    sm.create_training_job(**algorithm_request(unique, {"train": (train, "application/x-recordio-protobuf")},
                                               {"num_round": "3", "objective": "reg:squarederror"}))
    described = wait_training(sm, unique, timeout=300)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert [m["MetricName"] for m in described["FinalMetricDataList"]] == ["train:rmse"]


@pytest.mark.parametrize(("hyperparameters", "reason"), [
    ({"objective": "reg:squarederror"}, "Missing required hyperparameter: num_round"),
    ({"num_round": "zero"}, "Hyperparameter num_round: 'zero' is not an integer"),
    ({"num_round": "2", "_kfold": "3"}, "cross-validation (_kfold) is not supported by modelyard yet"),
    ({"num_round": "2", "objective": "reg:nonsense"}, "XGBoost refused the job"),
])
def test_bad_hyperparameters_fail_the_job(unique, hyperparameters, reason) -> None:  # type: ignore[no-untyped-def]
    jobs = stack()
    sm = jobs.client("sagemaker")
    train = put(jobs.s3(), f"{unique}/train/train.csv", as_csv(rows(10, 5)))
    sm.create_training_job(**algorithm_request(unique, {"train": (train, "text/csv")}, hyperparameters))
    described = wait_training(sm, unique, timeout=300)
    assert described["TrainingJobStatus"] == "Failed"
    assert reason in described["FailureReason"]


def test_an_artifact_without_model_or_code_fails_the_endpoint(unique) -> None:  # type: ignore[no-untyped-def]
    jobs = stack()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("notes")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    model_data = put(jobs.s3(), f"{unique}/model.tar.gz", buffer.getvalue())
    endpoint = create_endpoint(jobs.client("sagemaker"), unique, model_data)
    assert endpoint["EndpointStatus"] == "Failed"
    assert "neither an XGBoost model file (xgboost-model) nor an inference program" in endpoint["FailureReason"]


FRAMEWORK_MODE = '''
import os
import xgboost

def model_fn(model_dir):
    booster = xgboost.Booster()
    booster.load_model(os.path.join(model_dir, "xgboost-model"))
    return booster
'''


def test_framework_mode_script_gets_the_containers_default_input_and_predict(trained, unique) -> None:  # type: ignore[no-untyped-def]
    """A script defining only model_fn (a Booster): the default input_fn gives a DMatrix, predict_fn predicts."""
    jobs, described = trained
    s3 = jobs.s3()
    key = described["ModelArtifacts"]["S3ModelArtifacts"].split(f"s3://{BUCKET}/", 1)[1]
    files = read_tarball(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    files["code/inference.py"] = FRAMEWORK_MODE.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    model_data = put(s3, f"{unique}/model.tar.gz", buffer.getvalue())
    sm = jobs.client("sagemaker")
    endpoint = create_endpoint(sm, unique, model_data, env={"SAGEMAKER_PROGRAM": "inference.py"})
    try:
        assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")
        runtime = jobs.client("sagemaker-runtime")
        response = runtime.invoke_endpoint(EndpointName=unique, ContentType="text/csv", Body="0.5,0.5\n-0.5,-0.5")
        assert response["ContentType"] == "application/json"  # framework mode's default Accept
        assert len(json.loads(response["Body"].read())) == 2
        with pytest.raises(ClientError) as info:
            runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json", Body="[[0.5, 0.5]]")
        assert "Content type application/json is not supported by this framework" in \
            info.value.response["Error"]["Message"]
    finally:
        sm.delete_endpoint(EndpointName=unique)
