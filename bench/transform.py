"""Batch transform benchmark: CSV lines through a small numpy model (a linear classifier, the same
one as ../shared/bench), records/s for SingleRecord vs MultiRecord and MaxConcurrentTransforms 1, 2, 4,
against the same handlers called in-process in this run.

    .venv/bin/python bench/transform.py [--lines 1000000] [--single-lines 100000] [--workers 2] [--json]

Rates are records / (TransformEndTime - TransformStartTime): containers already up, every record
read, sent, predicted, mapped back, assembled and written. The wall time from CreateTransformJob
(container start included) is printed beside it. Every output is checked against the in-process
predictions.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import numpy as np
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.server import start_server  # noqa: E402

IMAGE = "modelyard/python:3.11"
ROLE = "arn:aws:iam::000000000000:role/bench"
HANDLER = '''
import json
import os

import numpy as np


def model_fn(model_dir):
    z = np.load(os.path.join(model_dir, "model.npz"))
    return {"coef": z["coef"], "intercept": z["intercept"]}


def input_fn(body, content_type):
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8")
    ct = (content_type or "text/csv").split(";")[0].strip().lower()
    if ct == "text/csv":
        return np.asarray([[float(v) for v in line.split(",")] for line in body.strip().splitlines() if line])
    if ct == "application/json":
        arr = np.asarray(json.loads(body), dtype=np.float64)
        return arr.reshape(1, -1) if arr.ndim == 1 else arr
    raise ValueError(f"unsupported content type: {content_type!r}")


def predict_fn(data, model):
    return np.argmax(data @ model["coef"].T + model["intercept"], axis=1)


def output_fn(prediction, accept):
    acc = (accept or "application/json").split(";")[0].strip().lower()
    if acc in ("application/json", "*/*", ""):
        return json.dumps({"predictions": prediction.tolist()})
    if acc == "text/csv":
        return "\\n".join(str(v) for v in prediction.tolist())
    raise ValueError(f"unsupported accept: {accept!r}")
'''


def build_model(root: Path) -> tuple[Path, Path]:
    """model/{model.npz, code/inference.py, code/requirements.txt} and model.tar.gz."""
    model_dir = root / "model"
    (model_dir / "code").mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.savez(model_dir / "model.npz", coef=rng.normal(size=(3, 4)), intercept=rng.normal(size=3))
    (model_dir / "code" / "inference.py").write_text(HANDLER)
    (model_dir / "code" / "requirements.txt").write_text("numpy\n")
    tar_path = root / "model.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        for child in sorted(model_dir.iterdir()):
            tar.add(child, arcname=child.name)
    return model_dir, tar_path


def write_lines(path: Path, count: int) -> bytes:
    """``count`` CSV rows of 4 features."""
    rng = np.random.default_rng(1)
    rows = rng.normal(loc=3.0, scale=2.0, size=(count, 4))
    data = "\n".join(",".join(f"{v:.2f}" for v in row) for row in rows).encode() + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def in_process(model_dir: Path, data: bytes, single_sample: int) -> dict[str, Any]:
    """The handlers called directly (best of three): records/s on 6 MB batches and one record per call."""
    spec = importlib.util.spec_from_file_location("bench_inference", model_dir / "code" / "inference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.model_fn(str(model_dir))
    lines = data.split(b"\n")[:-1]
    batch = 6 * 1024 * 1024 // (len(data) // len(lines) + 1)
    bodies = [b"\n".join(lines[i:i + batch]) for i in range(0, len(lines), batch)]
    multi_seconds, single_seconds = float("inf"), float("inf")
    sample = lines[:single_sample]
    for _ in range(3):
        started = time.perf_counter()
        outputs = [module.output_fn(module.predict_fn(module.input_fn(body, "text/csv"), model), "text/csv")
                   for body in bodies]
        multi_seconds = min(multi_seconds, time.perf_counter() - started)
        started = time.perf_counter()
        for line in sample:
            module.output_fn(module.predict_fn(module.input_fn(line, "text/csv"), model), "text/csv")
        single_seconds = min(single_seconds, time.perf_counter() - started)
    expected = "\n".join(outputs).encode() + b"\n"
    return {"multi_per_s": len(lines) / multi_seconds, "single_per_s": len(sample) / single_seconds,
            "expected": expected}


def run_job(sm: Any, name: str, input_path: Path, output_path: Path, strategy: str, concurrent: int) -> dict[str, Any]:
    """Run one job to completion; returns its timings."""
    created = time.monotonic()
    sm.create_transform_job(
        TransformJobName=name, ModelName="bench", BatchStrategy=strategy, MaxConcurrentTransforms=concurrent,
        MaxPayloadInMB=6 if concurrent * 6 <= 100 else 100 // concurrent,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"file://{input_path}"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"file://{output_path}", "Accept": "text/csv", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    while True:
        described = sm.describe_transform_job(TransformJobName=name)
        if described["TransformJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(0.2)
    wall = time.monotonic() - created
    if described["TransformJobStatus"] != "Completed":
        raise SystemExit(f"{name}: {described['TransformJobStatus']}: {described.get('FailureReason')}")
    start, end = described["TransformStartTime"], described["TransformEndTime"]
    return {"seconds": (end - start).total_seconds(), "wall_seconds": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000, help="records for the MultiRecord runs")
    parser.add_argument("--single-lines", type=int, default=100_000, help="records for the SingleRecord runs")
    parser.add_argument("--workers", type=int, default=1, help="SAGEMAKER_MODEL_SERVER_WORKERS of the model")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model_dir, tar_path = build_model(tmp / "model")
        data = write_lines(tmp / "in-multi" / "data.csv", args.lines)
        single_data = write_lines(tmp / "in-single" / "data.csv", args.single_lines)
        local = in_process(model_dir, data, min(args.single_lines, 50_000))
        expected_single = in_process(model_dir, single_data, 1)["expected"]
        server = start_server(tmp / "server", env={"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})
        try:
            sm = boto3.client("sagemaker", endpoint_url=server.url, region_name="us-east-1",
                              config=Config(retries={"max_attempts": 1}), **server.credentials)
            sm.create_model(ModelName="bench", ExecutionRoleArn=ROLE, PrimaryContainer={
                "Image": IMAGE, "ModelDataUrl": f"file://{tar_path}",
                "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": str(args.workers)}})
            results = []
            for strategy, records, source, expected in (
                    ("MultiRecord", args.lines, tmp / "in-multi", local["expected"]),
                    ("SingleRecord", args.single_lines, tmp / "in-single", expected_single)):
                for concurrent in args.concurrency:
                    name = f"bench-{strategy.lower()}-{concurrent}-{int(time.time())}"
                    out = tmp / "out" / name
                    timing = run_job(sm, name, source, out, strategy, concurrent)
                    if (out / "data.csv.out").read_bytes() != expected:
                        raise SystemExit(f"{name}: the output differs from the in-process predictions")
                    baseline = local["multi_per_s"] if strategy == "MultiRecord" else local["single_per_s"]
                    rate = records / timing["seconds"]
                    results.append({"strategy": strategy, "max_concurrent": concurrent, "records": records,
                                    **timing, "records_per_s": rate, "in_process_per_s": baseline,
                                    "in_process_over_transform": baseline / rate})
        finally:
            server.stop()
    if args.json:
        print(json.dumps({"in_process_multi_per_s": local["multi_per_s"],
                          "in_process_single_per_s": local["single_per_s"], "runs": results}, indent=2))
        return
    print(f"in-process: {local['multi_per_s']:,.0f} records/s on 6 MB batches, "
          f"{local['single_per_s']:,.0f} records/s one record per call (model server workers: {args.workers})")
    print(f"{'strategy':13} {'MCT':>3} {'records':>9} {'seconds':>8} {'wall s':>7} {'records/s':>10} "
          f"{'in-process/transform':>21}")
    for r in results:
        print(f"{r['strategy']:13} {r['max_concurrent']:3d} {r['records']:9,d} {r['seconds']:8.2f} "
              f"{r['wall_seconds']:7.2f} {r['records_per_s']:10,.0f} {r['in_process_over_transform']:20.2f}x")


if __name__ == "__main__":
    main()
