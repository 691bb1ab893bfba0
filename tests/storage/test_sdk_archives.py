"""Archives as other tools write them: the sagemaker SDK's repack stores the root as a directory named ''."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from modelyard.storage import UnsafeArchiveError, safe_extract


def _sdk_style_archive(source: Path, target: Path) -> Path:
    with tarfile.open(target, "w:gz") as tar:
        tar.add(source, arcname=os.path.sep)
    return target


def test_the_sdk_repack_layout_extracts(tmp_path: Path) -> None:
    source = tmp_path / "model"
    (source / "code").mkdir(parents=True)
    (source / "code" / "inference.py").write_text("def model_fn(d):\n    return 1\n")
    (source / "weights.bin").write_bytes(b"\x00\x01")
    archive = _sdk_style_archive(source, tmp_path / "model.tar.gz")
    with tarfile.open(archive) as tar:
        assert "" in tar.getnames()
    out = safe_extract(archive, tmp_path / "out")
    assert (out / "code" / "inference.py").read_text().startswith("def model_fn")
    assert (out / "weights.bin").read_bytes() == b"\x00\x01"


def test_dot_root_entry_extracts_and_empty_file_names_are_still_refused(tmp_path: Path) -> None:
    dotted = tmp_path / "dot.tar"
    with tarfile.open(dotted, "w") as tar:
        root = tarfile.TarInfo(".")
        root.type = tarfile.DIRTYPE
        tar.addfile(root)
        data = b"x"
        info = tarfile.TarInfo("./a.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert (safe_extract(dotted, tmp_path / "dot") / "a.txt").read_bytes() == b"x"

    empty_file = tmp_path / "empty.tar"
    with tarfile.open(empty_file, "w") as tar:
        info = tarfile.TarInfo("")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"y"))
    with pytest.raises(UnsafeArchiveError, match="empty"):
        safe_extract(empty_file, tmp_path / "empty")
