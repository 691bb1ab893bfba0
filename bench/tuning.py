"""Hyperparameter tuning: the tuner's overhead, and Bayesian search against Random at equal budget.

    .venv/bin/python bench/tuning.py [--jobs 20] [--parallel 1] [--seeds 5] [--json]

A scikit-learn SVC (C and gamma, both Logarithmic) on a small synthetic two-class problem, scored by
validation accuracy, in the scikit-learn framework image; one warm-up training job builds its environment
first, so no measured job pays for that.

- overhead: one Bayesian tuning job of ``--jobs`` training jobs, ``--parallel`` at once. Its wall time
  (CreateHyperParameterTuningJob to Completed, as DescribeHyperParameterTuningJob sees it) against the sum
  of its training jobs' own times (each job's CreationTime to TrainingEndTime) divided by ``--parallel``;
  overhead = wall / that - 1 (aim < 5 %).
- quality: Bayesian and Random, ``--jobs`` training jobs each, ``RandomSeed`` 0 .. ``--seeds``-1; the best
  validation accuracy of each run, the mean per strategy and how often Bayesian matched or beat Random.

Smoke run (proves the script works, numbers meaningless): ``--jobs 2 --seeds 1 --parallel 1``.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
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

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::000000000000:role/bench"
TRAIN = '''
import argparse, glob, os
import numpy as np
from sklearn.svm import SVC

parser = argparse.ArgumentParser()
parser.add_argument("--C", type=float, default=1.0)
parser.add_argument("--gamma", type=float, default=0.1)
args, _ = parser.parse_known_args()
data = np.loadtxt(glob.glob(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "*.csv"))[0], delimiter=",")
labels, features = data[:, 0].astype(int), data[:, 1:]
cut = int(len(labels) * 0.7)
model = SVC(C=args.C, gamma=args.gamma).fit(features[:cut], labels[:cut])
print(f"validation_accuracy={model.score(features[cut:], labels[cut:]):.5f}")
open(os.path.join(os.environ["SM_MODEL_DIR"], "done"), "w").write("ok")
'''
METRICS = [{"Name": "validation:accuracy", "Regex": r"validation_accuracy=([0-9.]+)"}]
RANGES = {"ContinuousParameterRanges": [
    {"Name": "C", "MinValue": "0.001", "MaxValue": "1000", "ScalingType": "Logarithmic"},
    {"Name": "gamma", "MinValue": "0.0001", "MaxValue": "10", "ScalingType": "Logarithmic"}]}


def write_inputs(root: Path) -> tuple[str, str]:
    """The source tarball and the training channel (file:// URIs)."""
    source = root / "sourcedir.tar.gz"
    with tarfile.open(source, "w:gz") as tar:
        data = TRAIN.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    rng = np.random.default_rng(0)
    features = rng.normal(size=(600, 6))
    labels = (np.sin(2 * features[:, 0]) + features[:, 1] ** 2 - features[:, 2] * features[:, 3]
              + 0.3 * rng.normal(size=600) > 0.8).astype(int)
    channel = root / "train"
    channel.mkdir()
    np.savetxt(channel / "train.csv", np.column_stack([labels, features]), delimiter=",", fmt="%.6f")
    return f"file://{source}", f"file://{channel}"


def definition(source: str, channel: str, output: str) -> dict[str, Any]:
    return {"StaticHyperParameters": {"sagemaker_program": '"train.py"', "sagemaker_submit_directory": f'"{source}"'},
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File",
                                       "MetricDefinitions": METRICS},
            "RoleArn": ROLE, "OutputDataConfig": {"S3OutputPath": output},
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": channel}}}],
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600}}


def warm_up(sm: Any, spec: dict[str, Any]) -> None:
    """One training job, so the scikit-learn environment is built before anything is measured."""
    name = f"bench-warm-{int(time.time())}"
    sm.create_training_job(TrainingJobName=name, RoleArn=ROLE, HyperParameters=spec["StaticHyperParameters"],
                           AlgorithmSpecification=spec["AlgorithmSpecification"],
                           OutputDataConfig=spec["OutputDataConfig"], InputDataConfig=spec["InputDataConfig"],
                           ResourceConfig=spec["ResourceConfig"], StoppingCondition=spec["StoppingCondition"])
    while (status := sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]) == "InProgress":
        time.sleep(0.5)
    if status != "Completed":
        raise SystemExit(f"warm-up training job {status}: {sm.describe_training_job(TrainingJobName=name)}")


def tune(sm: Any, name: str, spec: dict[str, Any], strategy: str, jobs: int, parallel: int,
         seed: int) -> dict[str, Any]:
    """Run one tuning job to its end; its wall time, its training jobs' times and its best objective."""
    started = time.time()
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, TrainingJobDefinition=spec,
        HyperParameterTuningJobConfig={
            "Strategy": strategy, "RandomSeed": seed, "ParameterRanges": RANGES,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel},
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:accuracy"}})
    while True:
        described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if described["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(0.05)
    ended = time.time()
    if described["HyperParameterTuningJobStatus"] != "Completed":
        raise SystemExit(f"{name}: {described['HyperParameterTuningJobStatus']} {described.get('FailureReason')}")
    children = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, MaxResults=100)["TrainingJobSummaries"]
    own = [(c["TrainingEndTime"] - c["CreationTime"]).total_seconds() for c in children]
    best = described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    return {"name": name, "strategy": strategy, "seed": seed, "wall_seconds": ended - started,
            "training_seconds": sum(own), "jobs": len(children), "best": best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20, help="training jobs per tuning job")
    parser.add_argument("--parallel", type=int, default=1, help="MaxParallelTrainingJobs")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the Bayesian vs Random comparison")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        source, channel = write_inputs(tmp)
        spec = definition(source, channel, f"file://{tmp / 'out'}")
        server = start_server(tmp / "server")
        try:
            sm = boto3.client("sagemaker", endpoint_url=server.url, region_name="us-east-1",
                              config=Config(retries={"max_attempts": 1}), **server.credentials)
            warm_up(sm, spec)
            stamp = int(time.time()) % 100000
            overhead_run = tune(sm, f"bench-over-{stamp}", spec, "Bayesian", args.jobs, args.parallel, 0)
            runs = [tune(sm, f"bench-{strategy[:3].lower()}-{seed}-{stamp}", spec, strategy, args.jobs,
                         args.parallel, seed)
                    for seed in range(args.seeds) for strategy in ("Bayesian", "Random")]
        finally:
            server.stop()
    ideal = overhead_run["training_seconds"] / args.parallel
    overhead = overhead_run["wall_seconds"] / ideal - 1
    means = {s: statistics.fmean(r["best"] for r in runs if r["strategy"] == s) for s in ("Bayesian", "Random")}
    wins = sum(1 for seed in range(args.seeds)
               if next(r["best"] for r in runs if r["seed"] == seed and r["strategy"] == "Bayesian")
               >= next(r["best"] for r in runs if r["seed"] == seed and r["strategy"] == "Random"))
    if args.json:
        print(json.dumps({"overhead": {**overhead_run, "parallel": args.parallel, "overhead_ratio": overhead},
                          "runs": runs, "mean_best": means, "bayesian_at_least_random": wins}, indent=2))
        return
    print(f"overhead: {args.jobs} Bayesian training jobs, {args.parallel} at once: wall "
          f"{overhead_run['wall_seconds']:.1f} s, training jobs {overhead_run['training_seconds']:.1f} s "
          f"(/{args.parallel} = {ideal:.1f} s); tuner overhead {overhead:+.1%} (aim < 5 %)")
    print(f"{'seed':>4} {'Bayesian best':>14} {'Random best':>12}")
    for seed in range(args.seeds):
        pair = {r["strategy"]: r["best"] for r in runs if r["seed"] == seed}
        print(f"{seed:4d} {pair['Bayesian']:14.4f} {pair['Random']:12.4f}")
    print(f"mean {means['Bayesian']:14.4f} {means['Random']:12.4f}; Bayesian matched or beat Random in "
          f"{wins}/{args.seeds} seeds at {args.jobs} training jobs each")


if __name__ == "__main__":
    main()
