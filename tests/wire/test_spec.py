"""The wire layer serves the vendored service models, never whatever botocore happens to be installed."""

from __future__ import annotations

import gzip
import json

import pytest

from modelyard.wire import spec


def test_served_services_are_vendored() -> None:
    assert {"sagemaker", "sagemaker-runtime", "logs"} <= set(spec.vendored_services())
    assert spec.source()["botocore"]


@pytest.mark.parametrize("service", ["sagemaker", "sagemaker-runtime", "logs"])
def test_model_is_read_from_the_vendored_file(service: str) -> None:
    path = spec.model_path(service)
    with gzip.open(path, "rt") as stream:
        data = json.load(stream)
    model = spec.service_model(service)
    assert path.is_relative_to(spec.MODELS_DIR)
    assert path.parent.name == model.api_version == data["metadata"]["apiVersion"]
    assert sorted(model.operation_names) == sorted(data["operations"])


def test_model_does_not_fall_back_to_botocore_data(monkeypatch: pytest.MonkeyPatch) -> None:
    spec.service_model.cache_clear()
    monkeypatch.setattr("botocore.loaders.Loader.load_service_model",
                        lambda *args, **kwargs: pytest.fail("botocore's data was consulted"))
    try:
        assert spec.service_model("sagemaker").service_name == "sagemaker"
    finally:
        spec.service_model.cache_clear()


@pytest.mark.parametrize("service", ["s3-not-vendored", "../sagemaker", ""])
def test_unknown_service_is_named(service: str) -> None:
    with pytest.raises(spec.UnknownServiceModelError, match="refresh_service_models"):
        spec.model_path(service)
