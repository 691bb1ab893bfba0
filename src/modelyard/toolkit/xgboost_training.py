"""SageMaker's built-in XGBoost algorithm, trained: ``python -m modelyard.toolkit train`` in an XGBoost
image given no training script (algorithm mode).

::

    hyperparameters.json  num_round (required) ─► boosting rounds; early_stopping_rounds (on validation);
                          _tuning_objective_metric "validation:auc" ─► auc added to eval_metric;
                          eval_metric "rmse,mae" ─► a list; every other one ─► a booster parameter
                          (integers and decimals as numbers)
    channels              train (required), validation (optional); every file of the channel, read as
                          the channel's ContentType says: text/csv (label in the first column),
                          libsvm (text/libsvm, text/x-libsvm; the default, as in the container) or
                          application/x-recordio-protobuf (labelled records)
    each round            [3]#011train-rmse:0.12345#011validation-rmse:0.23456   (on stdout: the
                          built-in metric definitions, validation:rmse etc., read these lines)
    result                <SM_MODEL_DIR>/xgboost-model (Booster.save_model)
    failure               the reason in <SM_OUTPUT_DIR>/failure, exit code 1

Cross-validation (``_kfold``, ``_nfold``), weights in CSV (``csv_weights=1``) and other channel types are
refused with a failure naming them.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any

from modelyard.toolkit.recordio_protobuf import read_rows
from modelyard.toolkit.xgboost_algorithm import (
    CSV_TYPES,
    LIBSVM_TYPES,
    MODEL_FILE,
    RECORDIO_TYPES,
    csv_rows,
    libsvm_matrix,
    rows_matrix,
)

TRAINING_KEYS = ("num_round", "early_stopping_rounds", "_tuning_objective_metric", "save_model_on_termination")
UNSUPPORTED = {"_kfold": "cross-validation (_kfold)", "_nfold": "cross-validation (_nfold)"}


class UserError(Exception):
    """A problem with the job's hyperparameters or data (the failure reason says which)."""


def _path(variable: str, default: str) -> str:
    return os.environ.get(variable) or default


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _read_json(path: str) -> dict[str, Any]:
    if not os.path.isfile(path):
        return {}
    value = json.loads(_read_text(path))
    return value if isinstance(value, dict) else {}


def hyperparameters(config_dir: str) -> dict[str, str]:
    """``hyperparameters.json`` with JSON-quoted strings (as framework estimators send them) unquoted."""
    path = os.path.join(config_dir, "hyperparameters.json")
    raw: dict[str, Any] = _read_json(path)
    values = {}
    for name, value in raw.items():
        text = str(value)
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = json.loads(text)
        values[name] = text
    return values


def _number(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def booster_settings(values: dict[str, str]) -> tuple[dict[str, Any], int, int | None]:
    """``(booster params, num_round, early_stopping_rounds)``; UserError for a missing or bad value."""
    for name, what in UNSUPPORTED.items():
        if name in values:
            raise UserError(f"{what} is not supported by modelyard yet: remove the hyperparameter {name}")
    if values.get("csv_weights", "0") not in ("0", ""):
        raise UserError("csv_weights=1 (instance weights in the CSV's second column) is not supported by "
                        "modelyard yet")
    if "num_round" not in values:
        raise UserError("Missing required hyperparameter: num_round")
    rounds = _positive(values, "num_round")
    early = _positive(values, "early_stopping_rounds") if values.get("early_stopping_rounds") else None
    params: dict[str, Any] = {name: _number(value) for name, value in values.items()
                              if name not in TRAINING_KEYS and name != "csv_weights"
                              and not name.startswith("sagemaker_")}
    metrics = [m.strip() for m in str(params.pop("eval_metric", "")).split(",") if m.strip()]
    objective_metric = values.get("_tuning_objective_metric", "")
    if ":" in objective_metric:
        name = objective_metric.split(":", 1)[1]
        if name not in metrics:
            metrics.append(name)
    if metrics:
        params["eval_metric"] = metrics
    return params, rounds, early


def _positive(values: dict[str, str], name: str) -> int:
    try:
        number = int(values[name])
    except ValueError:
        raise UserError(f"Hyperparameter {name}: {values[name]!r} is not an integer") from None
    if number < 1:
        raise UserError(f"Hyperparameter {name} must be at least 1, not {number}")
    return number


def channel_type(config_dir: str, channel: str) -> str:
    """The channel's ContentType (lower-cased, without parameters); libsvm when none is given."""
    path = os.path.join(config_dir, "inputdataconfig.json")
    config: dict[str, Any] = _read_json(path)
    given = (config.get(channel) or {}).get("ContentType") or "libsvm"
    media = str(given).split(";", 1)[0].strip().lower()
    if media not in CSV_TYPES + LIBSVM_TYPES + RECORDIO_TYPES:
        raise UserError(f"Channel {channel}: content type {given} is not supported by the built-in XGBoost "
                        "algorithm in modelyard: use text/csv, text/libsvm or application/x-recordio-protobuf")
    return media


def load_channel(directory: str, media: str, channel: str) -> Any:
    """Every file of the channel as one DMatrix with labels."""
    xgb, numpy = importlib.import_module("xgboost"), importlib.import_module("numpy")
    files = sorted(os.path.join(root, name) for root, _, names in os.walk(directory) for name in names
                   if not name.startswith("."))
    if media in RECORDIO_TYPES:
        return _recordio_channel(files, channel)
    text = "\n".join(_read_text(path).strip() for path in files).strip()
    if not text:
        raise UserError(f"Channel {channel} holds no data ({directory} is empty)")
    try:
        if media in CSV_TYPES:
            rows = numpy.array(csv_rows(text), dtype=float)
            if rows.shape[1] < 2:
                raise ValueError("a CSV row needs the label followed by at least one feature")
            return xgb.DMatrix(rows[:, 1:], label=rows[:, 0])
        matrix, labels = libsvm_matrix(text, shift_one_based=False)
        if len(labels) != matrix.shape[0]:
            raise ValueError(f"{matrix.shape[0]} lines but {len(labels)} labels: each line starts with its label")
        return xgb.DMatrix(matrix, label=numpy.array(labels))
    except ValueError as exc:
        kind = "csv" if media in CSV_TYPES else "libsvm"
        raise UserError(f"Failed to load {kind} data of channel {channel}: {exc}") from None


def _recordio_channel(files: list[str], channel: str) -> Any:
    xgb, numpy = importlib.import_module("xgboost"), importlib.import_module("numpy")
    body = b""
    for path in files:
        with open(path, "rb") as handle:
            body += handle.read()
    try:
        rows = read_rows(body)
    except ValueError as exc:
        raise UserError(f"Failed to load recordio-protobuf data of channel {channel}: {exc}") from None
    if not rows.features:
        raise UserError(f"Channel {channel} holds no records")
    if any(label is None for label in rows.labels):
        raise UserError(f"Channel {channel}: every record needs a label to train on")
    return xgb.DMatrix(rows_matrix(rows), label=numpy.array(rows.labels, dtype=float))


def round_printer() -> Any:
    """A callback printing each round's evaluation the way CloudWatch shows the container's lines."""
    xgb = importlib.import_module("xgboost")

    class RoundPrinter(xgb.callback.TrainingCallback):  # type: ignore[misc,name-defined]
        def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, dict[str, list[Any]]]) -> bool:
            parts = [f"[{epoch}]"]
            for data, metrics in evals_log.items():
                for metric, history in metrics.items():
                    score = history[-1][0] if isinstance(history[-1], tuple) else history[-1]
                    parts.append(f"{data}-{metric}:{score:.5f}")
            print("#011".join(parts), flush=True)
            return False

    return RoundPrinter()


def train() -> None:
    """Train from /opt/ml/input and save the model; UserError for the job's own mistakes."""
    xgb = importlib.import_module("xgboost")
    config_dir = _path("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config")
    params, rounds, early = booster_settings(hyperparameters(config_dir))
    train_dir = os.environ.get("SM_CHANNEL_TRAIN")
    if not train_dir:
        raise UserError("The built-in XGBoost algorithm needs a channel named train")
    evals = [(load_channel(train_dir, channel_type(config_dir, "train"), "train"), "train")]
    validation_dir = os.environ.get("SM_CHANNEL_VALIDATION")
    if validation_dir:
        evals.append((load_channel(validation_dir, channel_type(config_dir, "validation"), "validation"),
                      "validation"))
    if early and len(evals) < 2:
        raise UserError("early_stopping_rounds needs a validation channel")
    print(f"modelyard-xgboost: {rounds} round(s), parameters {json.dumps(params, sort_keys=True)}", flush=True)
    try:
        booster = xgb.train(params, evals[0][0], num_boost_round=rounds, evals=evals, verbose_eval=False,
                            early_stopping_rounds=early, callbacks=[round_printer()])
    except xgb.core.XGBoostError as exc:
        raise UserError(f"XGBoost refused the job: {str(exc).strip().splitlines()[0]}") from None
    model_dir = _path("SM_MODEL_DIR", "/opt/ml/model")
    os.makedirs(model_dir, exist_ok=True)
    booster.save_model(os.path.join(model_dir, MODEL_FILE))
    print(f"modelyard-xgboost: saved {os.path.join(model_dir, MODEL_FILE)}", flush=True)


def main() -> int:
    """Run the training; on a UserError write the failure file and return 1."""
    try:
        train()
    except UserError as exc:
        message = str(exc)
        output_dir = _path("SM_OUTPUT_DIR", "/opt/ml/output")
        os.makedirs(output_dir, exist_ok=True)
        with open(os.path.join(output_dir, "failure"), "w") as handle:
            handle.write(message)
        print(f"modelyard-xgboost: {message}", file=sys.stderr, flush=True)
        return 1
    return 0
