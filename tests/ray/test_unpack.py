"""The files a Ray node sends back (a job's /opt/ml, written by the job's own code) unpack only when
every member is safe: nothing lands outside the directory, no device, no link out."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from modelyard.controllers.ray.node_host import pack, unpack
from modelyard.storage.errors import UnsafeArchiveError


def _tar(*members: tarfile.TarInfo) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    return buffer.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size, link
    return info


@pytest.mark.parametrize("member", [
    _member("../escaped", size=1),
    _member("/etc/escaped", size=1),
    _member("model/dev", tarfile.CHRTYPE),
    _member("model/out", tarfile.SYMTYPE, link="../../../etc"),
], ids=["dot-dot", "absolute", "device", "link-out"])
def test_a_hostile_member_is_refused_and_nothing_is_written(tmp_path: Path, member: tarfile.TarInfo) -> None:
    target = tmp_path / "opt_ml"
    with pytest.raises(UnsafeArchiveError):
        unpack(_tar(_member("model/ok", size=2), member), target)
    assert not (target / "model" / "ok").exists()
    assert not (tmp_path / "escaped").exists()


def test_what_pack_sends_unpacks_whole(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "sub" / "weights.bin").write_bytes(b"w" * 10)
    unpack(pack(model, None), tmp_path / "out")
    assert (tmp_path / "out" / "model" / "sub" / "weights.bin").read_bytes() == b"w" * 10
