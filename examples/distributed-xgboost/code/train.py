"""Distributed XGBoost across the hosts of one training job, on SageMaker's contract.

Every host reads SM_HOSTS / SM_CURRENT_HOST, algo-1 runs XGBoost's rabit tracker, and every host
joins the collective (DMLC_TRACKER_URI = algo-1's address). Each host trains on its own shard of
the ``train`` channel (ShardedByS3Key); at every boosting round the hosts allreduce their gradient
histograms over TCP, so all of them grow the same trees from all of the data. algo-1 saves the model.
"""

import argparse
import glob
import json
import os
import socket

import numpy as np
import xgboost as xgb
from xgboost import collective
from xgboost.tracker import RabitTracker

TRACKER_PORT = 9091


def load(directory):
    """Every CSV file of a channel: label in the first column, features after it."""
    frames = [np.loadtxt(path, delimiter=",", ndmin=2) for path in sorted(glob.glob(os.path.join(directory, "*.csv")))]
    data = np.vstack(frames) if frames else np.empty((0, 2))
    return data[:, 1:], data[:, 0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-round", type=int, default=20)
    parser.add_argument("--max-depth", type=int, default=4)
    parser.add_argument("--eta", type=float, default=0.3)
    args = parser.parse_args()

    hosts = json.loads(os.environ["SM_HOSTS"])
    me = os.environ["SM_CURRENT_HOST"]
    master = socket.gethostbyname(hosts[0])
    tracker = None
    if me == hosts[0]:
        tracker = RabitTracker(host_ip=master, n_workers=len(hosts), port=TRACKER_PORT, sortby="task")
        tracker.start(len(hosts))
    features, labels = load(os.environ["SM_CHANNEL_TRAIN"])
    environment = {"DMLC_TRACKER_URI": master, "DMLC_TRACKER_PORT": TRACKER_PORT,
                   "DMLC_TASK_ID": str(hosts.index(me))}
    with collective.CommunicatorContext(**environment):
        rank, world = collective.get_rank(), collective.get_world_size()
        total = collective.allreduce(np.array([len(labels)], dtype=np.float64), collective.Op.SUM)
        print(f"{me}: rank {rank} of {world}, {len(labels)} local rows, {int(total[0])} rows on all hosts",
              flush=True)
        train = xgb.DMatrix(features, label=labels)
        params = {"objective": "reg:squarederror", "max_depth": args.max_depth, "eta": args.eta,
                  "tree_method": "hist"}
        booster = xgb.train(params, train, num_boost_round=args.num_round, evals=[(train, "train")])
        if rank == 0:
            booster.save_model(os.path.join(os.environ["SM_MODEL_DIR"], "xgboost-model"))
    if tracker is not None:
        tracker.join()


if __name__ == "__main__":
    main()
