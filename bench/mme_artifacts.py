"""The models of bench/mme.py and the tool environment that builds them and runs the MMS baseline.

The project venv has no scikit-learn: a uv venv kept in the bench cache (``venv-mme-tools``: scikit-learn,
sagemaker-inference and multi-model-server, on the project's Python) pickles the models in a subprocess,
and later serves them with multi-model-server (bench/mme_mms.py). Each model's requirements.txt pins the
scikit-learn version that pickled it, so modelyard builds the same one for the endpoint.
"""

from __future__ import annotations

import json
import random
import subprocess
import tarfile
from pathlib import Path

import tool_venv

TOOL_PACKAGES = ("scikit-learn", "numpy", "sagemaker-inference==1.10.1", "multi-model-server==1.1.11",
                 "setuptools<81")

SKLEARN_CODE = '''
import json, os, pickle, uuid
PROCESS = uuid.uuid4().hex

def model_fn(model_dir, context=None):
    with open(os.path.join(model_dir, "model.pkl"), "rb") as handle:
        return pickle.load(handle)

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    return {"y": model.predict(data["x"]).tolist(), "process": PROCESS}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''
TINY_CODE = '''
import json, os, uuid
PROCESS = uuid.uuid4().hex

def model_fn(model_dir, context=None):
    with open(os.path.join(model_dir, "weights.json")) as handle:
        return json.load(handle)

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    return {"y": [sum(w * v for w, v in zip(model["w"], row)) for row in data["x"]], "process": PROCESS}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''
PICKLER = '''
import json, pickle, sys
from pathlib import Path
import sklearn
from sklearn.linear_model import LinearRegression

out, weights = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())
for index, w in enumerate(weights):
    model = LinearRegression().fit([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], [w[0], w[1], w[2], sum(w)])
    (out / str(index)).mkdir(parents=True, exist_ok=True)
    (out / str(index) / "model.pkl").write_bytes(pickle.dumps(model))
print(sklearn.__version__)
'''


def tool_python() -> Path:
    """The tool venv's python (scikit-learn, multi-model-server), built on first use."""
    return tool_venv.tool_python("venv-mme-tools", TOOL_PACKAGES)


def write_models(prefix: Path, count: int, tiny: bool) -> Path:
    """``count`` artifacts m0000.tar.gz … under ``prefix``, each with its own weights; the directory holding
    the models' shared inference.py (for MMS, which imports the handler module once, from its path)."""
    prefix.mkdir(parents=True)
    build = prefix.parent / "build"
    weights = _weights(count)
    code = TINY_CODE if tiny else SKLEARN_CODE
    requirements = None
    if not tiny:
        (build / "weights.json").parent.mkdir(parents=True, exist_ok=True)
        (build / "weights.json").write_text(json.dumps(weights))
        done = subprocess.run([str(tool_python()), "-c", PICKLER, str(build), str(build / "weights.json")],
                              check=True, capture_output=True, text=True)
        requirements = f"scikit-learn=={done.stdout.strip()}\n"
    for index in range(count):
        work = build / str(index)
        (work / "code").mkdir(parents=True, exist_ok=True)
        (work / "code" / "inference.py").write_text(code)
        if tiny:
            (work / "weights.json").write_text(json.dumps({"w": weights[index]}))
        else:
            (work / "code" / "requirements.txt").write_text(requirements or "")
        with tarfile.open(prefix / f"m{index:04d}.tar.gz", "w:gz") as tar:
            for child in sorted(work.iterdir()):
                tar.add(child, arcname=child.name)
    shared_code = build / "shared-code"
    shared_code.mkdir()
    (shared_code / "inference.py").write_text(code)
    return shared_code


def answers(count: int) -> list[float]:
    """What each model answers to the bench's request body (x = [[1, 2, 3]])."""
    return [sum(w * x for w, x in zip(weights, (1.0, 2.0, 3.0), strict=True)) for weights in _weights(count)]


def _weights(count: int) -> list[list[float]]:
    rng = random.Random(7)
    return [[rng.uniform(-1, 1) for _ in range(3)] for _ in range(count)]
