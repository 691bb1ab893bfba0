"""SageMaker's built-in XGBoost algorithm, served: the handlers its container uses for a model with no
inference program (algorithm mode).

::

    model_fn     every regular, non-dot file of the model directory (``xgboost-model`` first): pickled
                 Booster, else ``Booster.load_model`` (binary, json, ubj); several files make an ensemble
                 (mean; majority vote for multi:softmax and binary:hinge) unless
                 SAGEMAKER_INFERENCE_ENSEMBLE=false
    request      empty body                                -> 204, no content
                 text/csv | csv                            -> dense rows ("" is missing)
                 text/libsvm | text/x-libsvm | libsvm      -> sparse rows; labels ignored, 1-based
                 (and no Content-Type)                        indices shifted to 0-based
                 application/x-recordio-protobuf           -> the records' "values" features (dense or sparse)
                 anything else                             -> 415 naming the accepted types
    predict      feature count checked for pickled models  -> 400 "Unable to evaluate payload provided"
    Accept       missing or */* -> SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT or text/csv
                 text/csv          one prediction per line (a row of class probabilities per line)
                 application/json  {"predictions": [{"score": p}, ...]}
                 application/jsonlines  {"score": p} per line
                 other             -> 406 naming the supported types
    SAGEMAKER_BATCH (batch transform): one prediction per line whatever the Accept

SAGEMAKER_INFERENCE_OUTPUT (selectable inference output) is refused when the model loads.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import pickle
from types import ModuleType
from typing import Any

from modelyard.toolkit import content_types
from modelyard.toolkit.errors import GenericInferenceToolkitError
from modelyard.toolkit.recordio_protobuf import Rows, read_rows

MODEL_FILE = "xgboost-model"
DEFAULT_ACCEPT = content_types.CSV
CSV_TYPES = (content_types.CSV, "csv")
LIBSVM_TYPES = ("text/libsvm", "text/x-libsvm", "libsvm")
RECORDIO_TYPES = ("application/x-recordio-protobuf", "recordio-protobuf")
JSONLINES = "application/jsonlines"
ACCEPT_TYPES = (content_types.CSV, content_types.JSON, JSONLINES)
ACCEPTED_INPUT = "text/csv, text/libsvm (or text/x-libsvm), application/x-recordio-protobuf"
VOTING_OBJECTIVES = ("multi:softmax", "binary:hinge")
PICKLED = "pkl_format"
NATIVE = "xgb_format"


class AlgorithmModel:
    """The loaded booster(s), their format and the training objective."""

    def __init__(self, boosters: list[Any], model_format: str, objective: str | None) -> None:
        self.boosters = boosters
        self.model_format = model_format
        self.objective = objective


def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


def model_files(model_dir: str) -> list[str]:
    """The model directory's regular, non-dot files, ``xgboost-model`` first."""
    names = sorted(name for name in os.listdir(model_dir)
                   if not name.startswith(".") and os.path.isfile(os.path.join(model_dir, name)))
    names.sort(key=lambda name: name != MODEL_FILE)
    return [os.path.join(model_dir, name) for name in names]


def load_booster(path: str) -> tuple[Any, str]:
    """A Booster from ``path`` (pickled, else in one of XGBoost's own formats) and its format."""
    xgb = _module("xgboost")
    try:
        with open(path, "rb") as handle:
            booster = pickle.load(handle)
        model_format = PICKLED
    except Exception as pickle_error:  # noqa: BLE001 - any unpickling failure means "not a pickle"
        booster = xgb.Booster()
        try:
            booster.load_model(path)
        except Exception as native_error:  # noqa: BLE001
            raise RuntimeError(f"Model {os.path.basename(path)} cannot be loaded: as a pickle: {pickle_error}; "
                               f"as an XGBoost model file: {native_error}") from None
        model_format = NATIVE
    if not isinstance(booster, xgb.Booster):
        raise RuntimeError(f"Model {os.path.basename(path)} holds a pickled {type(booster).__name__}, not an "
                           "xgboost Booster")
    booster.set_param("nthread", 1)
    return booster, model_format


def _objective(booster: Any) -> str | None:
    try:
        name: str = json.loads(booster.save_config())["learner"]["objective"]["name"]
    except Exception:  # noqa: BLE001 - an old booster without a readable config
        return None
    return name


def model_fn(model_dir: str) -> AlgorithmModel:
    """Load the model directory's booster(s) as the XGBoost container does."""
    if os.environ.get("SAGEMAKER_INFERENCE_OUTPUT"):
        raise RuntimeError("SAGEMAKER_INFERENCE_OUTPUT (selectable inference output) is not supported by "
                           "modelyard yet: remove it from the model's Environment")
    paths = model_files(model_dir)
    if not paths:
        raise RuntimeError(
            f"Unable to load model: {model_dir} holds neither an XGBoost model file ({MODEL_FILE}) nor an "
            "inference program (code/inference.py). Put the Booster saved by xgboost (save_model or pickle) in "
            f"the model archive as {MODEL_FILE}, or give code/inference.py with a model_fn")
    if os.environ.get("SAGEMAKER_INFERENCE_ENSEMBLE", "true") != "true":
        paths = paths[:1]
    loaded = [load_booster(path) for path in paths]
    boosters = [booster for booster, _ in loaded]
    return AlgorithmModel(boosters, loaded[0][1], _objective(boosters[0]))


def media_type(content_type: str | None) -> str:
    """The lower-cased media type without parameters; no Content-Type means libsvm, as in the container."""
    if not content_type:
        return LIBSVM_TYPES[0]
    return content_types.base_type(content_type)


def _text(data: bytes | str) -> str:
    text = data if isinstance(data, str) else bytes(data).decode("utf-8")
    return text.strip()


def csv_rows(text: str) -> list[list[float]]:
    """Parse CSV rows of numbers (an empty cell is missing); ValueError names the first bad row."""
    first = text.split("\n", 1)[0]
    delimiter = "," if "," in first or not any(c in first for c in "\t;|") else next(c for c in "\t;|" if c in first)
    rows: list[list[float]] = []
    width = None
    for number, cells in enumerate(csv.reader(text.split("\n"), delimiter=delimiter), start=1):
        try:
            row = [float("nan") if cell.strip() == "" else float(cell) for cell in cells]
        except ValueError as exc:
            raise ValueError(f"row {number}: {exc}") from None
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise ValueError(f"row {number} has {len(row)} values, row 1 has {width}")
        rows.append(row)
    return rows


def libsvm_matrix(text: str, *, shift_one_based: bool) -> tuple[Any, list[float]]:
    """A scipy CSR matrix of libsvm lines (``label index:value ...``) and the labels found (tokens without
    ``:``, first on a line); with ``shift_one_based``, indices are made 0-based when none is 0."""
    numpy, sparse = _module("numpy"), _module("scipy.sparse")
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    labels: list[float] = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        for position, token in enumerate(line.split()):
            if ":" not in token:
                if position == 0:
                    labels.append(float(token))
                continue
            index, _, value = token.partition(":")
            try:
                cols.append(int(index))
                values.append(float(value))
            except ValueError:
                raise ValueError(f"line {number}: {token!r} is not index:value") from None
            if cols[-1] < 0:
                raise ValueError(f"line {number}: negative feature index {cols[-1]}")
            rows.append(number - 1)
    offset = 1 if shift_one_based and cols and min(cols) >= 1 else 0
    width = (max(cols) + 1 - offset) if cols else 0
    matrix = sparse.csr_matrix(
        (numpy.array(values, dtype=float), (numpy.array(rows, dtype=int), numpy.array(cols, dtype=int) - offset)),
        shape=(len(lines), width))
    return matrix, labels


def decode(data: bytes | str, content_type: str | None) -> Any:
    """The request as a DMatrix; 415 for a type the container does not read or a body it cannot parse."""
    xgb, numpy = _module("xgboost"), _module("numpy")
    media = media_type(content_type)
    if media in CSV_TYPES:
        try:
            return xgb.DMatrix(numpy.array(csv_rows(_text(data)), dtype=float))
        except Exception as exc:  # noqa: BLE001
            raise GenericInferenceToolkitError(
                415, f"Loading csv data failed with Exception, please ensure data is in csv format: {exc}") from None
    if media in LIBSVM_TYPES:
        try:
            return xgb.DMatrix(libsvm_matrix(_text(data), shift_one_based=True)[0])
        except Exception as exc:  # noqa: BLE001
            raise GenericInferenceToolkitError(
                415, f"Loading libsvm data failed with Exception, please ensure data is in libsvm format: {exc}"
            ) from None
    if media in RECORDIO_TYPES:
        try:
            return xgb.DMatrix(recordio_matrix(bytes(data) if not isinstance(data, str) else data.encode()))
        except Exception as exc:  # noqa: BLE001
            raise GenericInferenceToolkitError(
                415, "Loading recordio-protobuf data failed with Exception, please ensure data is in "
                     f"recordio-protobuf format: {exc}") from None
    raise GenericInferenceToolkitError(
        415, f"Content-type {content_type} is not supported. The built-in XGBoost algorithm reads {ACCEPTED_INPUT}")


def recordio_matrix(body: bytes) -> Any:
    """A scipy CSR matrix of a RecordIO-protobuf body's features (columns as the records number them)."""
    return rows_matrix(read_rows(body))


def rows_matrix(rows: Rows) -> Any:
    """The features of RecordIO-protobuf records as a scipy CSR matrix."""
    numpy, sparse = _module("numpy"), _module("scipy.sparse")
    cells = [(index, column, value) for index, row in enumerate(rows.features) for column, value in row.items()]
    row_index = numpy.array([cell[0] for cell in cells], dtype=int)
    col_index = numpy.array([cell[1] for cell in cells], dtype=int)
    values = numpy.array([cell[2] for cell in cells], dtype=float)
    return sparse.csr_matrix((values, (row_index, col_index)), shape=(len(rows.features), rows.width))


def _check_features(booster: Any, matrix: Any, media: str) -> None:
    expected, given = booster.num_features(), matrix.num_col()
    if media in LIBSVM_TYPES:
        if given > expected + 1:
            raise ValueError(f"Feature size of libsvm inference data {given} is larger than feature size of "
                             f"trained model {expected}.")
    elif given not in (expected, expected + 1):
        raise ValueError(f"Feature size of {media} inference data {given} is not consistent with feature size of "
                         f"trained model {expected}.")


def predict(model: AlgorithmModel, matrix: Any, media: str) -> Any:
    """The predictions of the booster (or the ensemble's mean or majority vote)."""
    numpy = _module("numpy")
    if model.model_format == PICKLED:
        _check_features(model.boosters[0], matrix, media)
    outputs = [booster.predict(matrix, validate_features=False) for booster in model.boosters]
    if len(outputs) == 1:
        return outputs[0]
    if model.objective in VOTING_OBJECTIVES:
        stacked = numpy.stack(outputs)
        return numpy.array([max(set(column.tolist()), key=column.tolist().count) for column in stacked.T])
    return numpy.mean(outputs, axis=0)


def negotiate(accept: str | None) -> str:
    """The response type for ``accept``; 406 when none of its types is one the container writes."""
    for entry in (accept or content_types.ANY).split(","):
        media = content_types.base_type(entry)
        if media in ACCEPT_TYPES:
            return media
        if media in (content_types.ANY, ""):
            return os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or DEFAULT_ACCEPT
    raise GenericInferenceToolkitError(
        406, f"Accept type {accept} is not supported. Please use supported accept types: {list(ACCEPT_TYPES)}.")


def encode(predictions: Any, accept: str) -> str:
    """The response body: CSV lines, ``{"predictions": [{"score": ...}]}`` or JSON lines."""
    values = predictions.tolist()
    if os.environ.get("SAGEMAKER_BATCH"):
        return "\n".join(map(str, values)) + "\n"
    if accept == content_types.JSON:
        return json.dumps({"predictions": [{"score": value} for value in values]})
    if accept == JSONLINES:
        return "".join(json.dumps({"score": value}) + "\n" for value in values)
    return "".join((",".join(map(str, value)) if isinstance(value, list) else str(value)) + "\n"
                   for value in values)


def transform_fn(model: AlgorithmModel, data: bytes | str, content_type: str | None, accept: str | None,
                 context: Any) -> tuple[str | bytes, str | None]:
    """One request, checked in the container's order: empty body, content type, prediction, Accept."""
    if len(data) == 0:
        context.set_response_status(204, "No Content")
        return b"", None
    matrix = decode(data, content_type)
    try:
        predictions = predict(model, matrix, media_type(content_type))
    except Exception as exc:  # noqa: BLE001 - xgboost's errors on a payload it cannot score
        raise GenericInferenceToolkitError(400, f"Unable to evaluate payload provided: {exc}") from None
    response_type = negotiate(accept)
    return encode(predictions, response_type), response_type
