"""Turn a model directory into a ``model.tar.gz`` in the artifact store.

    ./model_dir ──pack──► <artifacts>/<name>/<UTC time>/model.tar.gz
        <artifacts> = --artifacts (a directory, file:// URI or s3:// prefix)
                      or file://<data dir>-uploads (beside the data dir: the server never reads user data
                      from inside its own data dir)

Two layouts are accepted: SageMaker's (``code/inference.py`` beside the model files) and a flat
directory with ``inference.py`` at its top, served with ``SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from modelyard.settings import uploads_dir
from modelyard.storage import ObjectStore, StorageError, pack_dir, parse_location

PROGRAM = "inference.py"


@dataclass(frozen=True)
class ModelSource:
    """A checked model directory and the container environment its layout needs."""

    directory: Path
    environment: dict[str, str] = field(default_factory=dict)
    program: Path | None = None


class ArtifactError(Exception):
    """The model directory or the artifact destination is unusable."""


def inspect_model_dir(directory: Path) -> ModelSource:
    """Check ``directory`` and find its inference program; ArtifactError explains what is wrong."""
    directory = Path(directory).expanduser().resolve()
    if not directory.is_dir():
        raise ArtifactError(f"{directory} is not a directory: give the directory that holds your model files "
                            "and code/inference.py")
    if (directory / "code" / PROGRAM).is_file():
        return ModelSource(directory, {}, directory / "code" / PROGRAM)
    if (directory / PROGRAM).is_file():
        return ModelSource(directory, {"SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model", "SAGEMAKER_PROGRAM": PROGRAM},
                           directory / PROGRAM)
    return ModelSource(directory, {}, None)


def upload_destination(name: str, artifacts: str | None, data_dir: Path, now: dt.datetime | None = None) -> str:
    """The URI the packed model goes to (unique per deploy)."""
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ")
    base = artifacts or uploads_dir(data_dir).as_uri()
    try:
        location = parse_location(base)
    except StorageError as exc:
        raise ArtifactError(str(exc)) from None
    return location.child(f"{name}/{stamp}/model.tar.gz").uri


def pack_and_upload(source: ModelSource, destination: str, store: ObjectStore | None = None) -> int:
    """Pack ``source`` into ``destination``; returns the archive's size in bytes."""
    store = store or ObjectStore()
    try:
        location = store.location(destination)
        if not location.is_s3:
            location.local_path.parent.mkdir(parents=True, exist_ok=True)
            pack_dir(source.directory, location.local_path)
            return location.local_path.stat().st_size
        with tempfile.TemporaryDirectory(prefix="modelyard-pack-") as scratch:
            archive = pack_dir(source.directory, Path(scratch) / "model.tar.gz")
            store.upload_file(archive, location)
            return archive.stat().st_size
    except StorageError as exc:
        raise ArtifactError(f"could not store the model at {destination}: {exc}") from None
    except OSError as exc:
        raise ArtifactError(f"could not pack {source.directory}: {exc}") from None
