"""``modelyard endpoints --models`` shows which models each multi-model instance holds, with counts."""

from __future__ import annotations

import json
import shutil
import time

from tests.cli.conftest import clean_environment, run_cli
from tests.multimodel.models import deploy_multi_model, echo_model, invoke


def test_endpoints_models_lists_loaded_models_with_counts(mme_server, sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    shutil.copy(echo_model(tmp_path / "m", "m"), prefix / "m.tar.gz")
    deploy_multi_model(sm, unique, f"file://{prefix}/")
    for _ in range(3):
        invoke(runtime, unique, "m.tar.gz")
    env = clean_environment(AWS_ENDPOINT_URL=mme_server.url, MODELYARD_DATA_DIR=str(mme_server.data_dir))
    deadline = time.monotonic() + 15
    while True:
        result = run_cli(["endpoints", "--models", "--json"], env)
        assert result.code == 0, result.output
        mine = [s for s in json.loads(result.stdout) if s["EndpointName"] == unique]
        models = {m["TargetModel"]: m for s in mine for m in s["Models"]}
        if models.get("m.tar.gz", {}).get("Hits", 0) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    model = models["m.tar.gz"]
    assert model["Loads"] == 1 and model["Hits"] >= 2 and model["LastLoadSeconds"] > 0
    assert model["Loaded"] or model["Unloads"] == 1, "only the idle TTL may have unloaded it"
    metrics = mine[0]["Metrics"]
    assert metrics["LoadedModelCount"] == (1 if model["Loaded"] else 0)
    assert metrics["ModelLoadingTime"]["SampleCount"] == 1
    assert metrics["ModelCacheHit"]["SampleCount"] >= 3

    table = run_cli(["endpoints", "--models"], env)
    assert table.code == 0 and "m.tar.gz" in table.stdout
