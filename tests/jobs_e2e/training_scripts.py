"""Training scripts the tests run for real (plain Python: the generic image's environment builds at once).

``probe.py`` reports what the container sees (argv, SM_* environment, config files, channel files) into
the model it saves, prints metric lines, and behaves by its ``--mode`` hyperparameter:

    ok            save the report and finish
    raise         raise ValueError (the reason must be the traceback's last line)
    failure-file  write /opt/ml/output/failure and exit 2
    sleep         print "probe started", then sleep (for stop, timeout and live-log tests)
    save-sleep    save the model first, then sleep (a stopped job keeps what it saved)
"""

from __future__ import annotations

PROBE = r'''
import argparse, json, os, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--learning-rate", type=float, default=0.1)
parser.add_argument("--mode", default="ok")
parser.add_argument("--label", default="")
args = parser.parse_args()

model_dir = os.environ["SM_MODEL_DIR"]
for epoch in range(args.epochs):
    print(f"epoch={epoch} train_loss={1.0 / (epoch + 1):.4f}; accuracy: {0.5 + epoch / 10:.2f}")
    print("validation loss is not-a-number here: train_loss=abc;")

if args.mode == "raise":
    rows = 3
    raise ValueError(f"bad input rows: {rows}")
if args.mode == "failure-file":
    with open("/opt/ml/output/failure", "w") as handle:
        handle.write("The label column is missing from the training data")
    sys.exit(2)
if args.mode == "save-sleep":
    with open(os.path.join(model_dir, "partial.txt"), "w") as handle:
        handle.write("saved before the stop")
if args.mode in ("sleep", "save-sleep"):
    print("probe started", flush=True)
    time.sleep(120)

config_dir = os.environ["SM_INPUT_CONFIG_DIR"]
channels = {}
for name in json.loads(os.environ["SM_CHANNELS"]):
    root = os.environ["SM_CHANNEL_" + name.upper()]
    channels[name] = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)
report = {
    "argv": sys.argv,
    "cwd": os.getcwd(),
    "args": vars(args),
    "env": {k: v for k, v in os.environ.items() if k.startswith(("SM_", "SAGEMAKER_", "TRAINING_JOB")) or k in (
        "CURRENT_HOST", "PYTHONPATH", "MY_SETTING")},
    "config": {name: json.load(open(os.path.join(config_dir, name)))
               for name in ("hyperparameters.json", "inputdataconfig.json", "resourceconfig.json")},
    "channels": channels,
    "train_text": {f: open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], f)).read()
                   for f in channels.get("train", [])},
}
with open(os.path.join(model_dir, "report.json"), "w") as handle:
    json.dump(report, handle)
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "notes.txt"), "w") as handle:
    handle.write("non-model output")
print("probe finished")
'''

SKLEARN_TRAIN = r'''
import argparse, os, shutil
import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

parser = argparse.ArgumentParser()
parser.add_argument("-C", type=float, default=1.0)
parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
args = parser.parse_args()

frame = pd.read_csv(os.path.join(args.train, "train.csv"), header=None)
labels, features = frame.iloc[:, 0].values, frame.iloc[:, 1:].values
model = LogisticRegression(C=args.C).fit(features, labels)
print(f"train_accuracy={model.score(features, labels):.4f}")
joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
os.makedirs(os.path.join(args.model_dir, "code"), exist_ok=True)
shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "inference.py"),
            os.path.join(args.model_dir, "code", "inference.py"))
'''

SKLEARN_INFERENCE = r'''
import json, os
import joblib
import numpy as np

def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))

def input_fn(body, content_type):
    if content_type != "application/json":
        raise ValueError("unsupported content type " + content_type)
    return np.array(json.loads(body)["instances"], dtype=float)

def predict_fn(data, model):
    return model.predict(data).tolist()

def output_fn(prediction, accept):
    return json.dumps({"predictions": prediction}), "application/json"
'''


def sklearn_training_csv(rows: int = 200) -> str:
    """A linearly separable two-feature dataset: label, x1, x2 (label 1 when x1 + x2 > 0)."""
    lines = []
    for index in range(rows):
        x1 = ((index * 37) % 101 - 50) / 10
        x2 = ((index * 53) % 97 - 48) / 10
        lines.append(f"{int(x1 + x2 > 0)},{x1},{x2}")
    return "\n".join(lines) + "\n"
