"""Training script (SageMaker script mode): fit a logistic regression on the "train" channel.

Reads ``$SM_CHANNEL_TRAIN/*.csv`` (label first, then features; no header), writes model.joblib and
this directory's inference.py into ``$SM_MODEL_DIR``, so the job's model.tar.gz deploys as is.
"""

import argparse
import glob
import os
import shutil

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression

parser = argparse.ArgumentParser()
parser.add_argument("-C", "--C", dest="C", type=float, default=1.0)  # SageMaker passes one-letter names as -C
parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
args = parser.parse_args()

files = sorted(glob.glob(os.path.join(args.train, "*.csv")))
data = np.vstack([np.loadtxt(path, delimiter=",", ndmin=2) for path in files])
labels, features = data[:, 0].astype(int), data[:, 1:]
print(f"training on {len(labels)} rows from {len(files)} file(s), C={args.C}")
model = LogisticRegression(C=args.C).fit(features, labels)
print(f"train_accuracy={model.score(features, labels):.4f}")

joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
code_dir = os.path.join(args.model_dir, "code")
os.makedirs(code_dir, exist_ok=True)
shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "inference.py"), code_dir)
