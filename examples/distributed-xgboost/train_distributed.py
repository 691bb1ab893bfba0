"""Train XGBoost on two hosts through the sagemaker SDK, unchanged: each host gets half of the files
(ShardedByS3Key) and the hosts allreduce their histograms over the job's network every round.

    eval "$(modelyard env)"   # the server's endpoint, credentials and bucket
    python examples/distributed-xgboost/train_distributed.py [--instances 2] [--rows 20000] [--files 8]
"""

import argparse
import os
import random
import tempfile

import sagemaker
from sagemaker.inputs import TrainingInput
from sagemaker.xgboost import XGBoost

HERE = os.path.dirname(os.path.abspath(__file__))


def write_data(directory, rows, files):
    """``files`` CSV files of y = 2*x1 + x2 - x3 + noise (label first)."""
    rng = random.Random(7)
    for index in range(files):
        with open(os.path.join(directory, f"part-{index:03d}.csv"), "w") as handle:
            for _ in range(rows // files):
                x = [rng.uniform(-1, 1) for _ in range(3)]
                y = 2 * x[0] + x[1] - x[2] + rng.gauss(0, 0.05)
                handle.write(",".join(f"{v:.5f}" for v in [y, *x]) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--role", default="arn:aws:iam::000000000000:role/modelyard")
    args = parser.parse_args()

    session = sagemaker.Session()
    with tempfile.TemporaryDirectory() as data:
        write_data(data, args.rows, args.files)
        train = session.upload_data(data, key_prefix="distributed-xgboost/train")
    estimator = XGBoost(entry_point="train.py", source_dir=os.path.join(HERE, "code"), framework_version="1.7-1",
                        role=args.role, instance_count=args.instances, instance_type="ml.m5.large",
                        hyperparameters={"num-round": 20, "max-depth": 4}, sagemaker_session=session,
                        disable_profiler=True, debugger_hook_config=False)
    estimator.fit({"train": TrainingInput(train, distribution="ShardedByS3Key", content_type="text/csv")})
    print("MODEL", estimator.model_data)


if __name__ == "__main__":
    main()
