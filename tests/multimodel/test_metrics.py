"""A multi-model endpoint publishes SageMaker's MME metrics to CloudWatch: model loading, downloading,
waiting and unloading times (µs) and ModelCacheHit under AWS/SageMaker, LoadedModelCount per instance
under /aws/sagemaker/Endpoints, all with EndpointName and VariantName; read back with boto3."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.cloudwatch.conftest import endpoint_statistic, eventually
from tests.conftest import client_for
from tests.multimodel.models import deploy_multi_model, echo_model, invoke
from tests.support.server import ServerProcess


def test_model_loading_metrics_reach_cloudwatch(  # type: ignore[no-untyped-def]
        mme_server: ServerProcess, sm, runtime, tmp_path: Path, unique: str):
    cw = client_for(mme_server, "cloudwatch")
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    for name in ("a", "b"):
        shutil.copy(echo_model(tmp_path / name, name), prefix / f"{name}.tar.gz")
    deploy_multi_model(sm, unique, f"file://{prefix}/")
    for target in ("a.tar.gz", "a.tar.gz", "b.tar.gz", "a.tar.gz"):
        invoke(runtime, unique, target)

    def stat(name: str, statistic: str, namespace: str = "AWS/SageMaker") -> float | None:
        return endpoint_statistic(cw, namespace, unique, name, statistic)

    assert eventually(lambda: stat("ModelCacheHit", "SampleCount") == 4)
    assert stat("ModelCacheHit", "Sum") == 2 and stat("ModelCacheHit", "Average") == 0.5
    for name in ("ModelLoadingTime", "ModelDownloadingTime", "ModelLoadingWaitTime"):
        assert stat(name, "SampleCount") == 2, name
        average = stat(name, "Average")
        assert average is not None and 0 < average < 600e6, f"{name} is in microseconds"
    loading = stat("ModelLoadingWaitTime", "Minimum")
    assert loading is not None and loading > 1e3, "a call that waited for a load waited milliseconds at least"
    assert eventually(lambda: stat("LoadedModelCount", "Maximum", "/aws/sagemaker/Endpoints") == 2)
    assert stat("LoadedModelCount", "Maximum") is None, "LoadedModelCount is an instance metric"

    sm.delete_endpoint(EndpointName=unique)
    assert eventually(lambda: stat("ModelUnloadingTime", "SampleCount") == 2, timeout=30)
    listed = cw.list_metrics(Namespace="AWS/SageMaker", Dimensions=[{"Name": "EndpointName", "Value": unique}])
    assert {"ModelLoadingWaitTime", "ModelDownloadingTime", "ModelLoadingTime", "ModelUnloadingTime",
            "ModelCacheHit"} <= {metric["MetricName"] for metric in listed["Metrics"]}
