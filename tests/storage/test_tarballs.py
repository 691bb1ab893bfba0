"""safe_extract refuses hostile members; pack_dir writes SageMaker's model.tar.gz layout."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from modelyard.storage import InvalidArchiveError, UnsafeArchiveError, pack_dir, safe_extract
from modelyard.storage.errors import ArtifactNotFoundError

Member = tuple[str, Callable[[tarfile.TarInfo], None], bytes]


def _file(name: str, data: bytes = b"x") -> Member:
    return (name, lambda info: None, data)


def _typed(name: str, kind: bytes, linkname: str = "") -> Member:
    def setup(info: tarfile.TarInfo) -> None:
        info.type = kind
        info.linkname = linkname

    return (name, setup, b"")


def _make_tar(path: Path, members: list[Member], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as archive:
        for name, setup, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            setup(info)
            if info.type != tarfile.REGTYPE:
                info.size = 0
                archive.addfile(info)
            else:
                archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(params=["data filter", "no filters"])
def pep706(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Extraction with PEP 706's ``data`` filter, and as on a Python before 3.11.4 that has none (Debian 12's
    3.11.2): the member checks alone must refuse the same archives."""
    if request.param == "no filters":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)


@pytest.mark.parametrize("mode", ["w:gz", "w", "w:bz2"])
@pytest.mark.usefixtures("pep706")
def test_extracts_regular_layout(tmp_path: Path, mode: str) -> None:
    tar = _make_tar(tmp_path / "model.tar.gz", [
        _file("model.pth", b"weights"),
        _typed("code", tarfile.DIRTYPE),
        _file("code/inference.py", b"def model_fn(d): pass\n"),
        _file("./code/requirements.txt", b"numpy\n"),
        _typed("link-inside", tarfile.SYMTYPE, "model.pth"),
        _typed("code/hard", tarfile.LNKTYPE, "model.pth"),
        _typed("code/up-but-inside", tarfile.SYMTYPE, "../model.pth"),
    ], mode)
    dest = safe_extract(tar, tmp_path / "out")
    assert (dest / "model.pth").read_bytes() == b"weights"
    assert (dest / "code/inference.py").read_text().startswith("def model_fn")
    assert (dest / "code/requirements.txt").read_text() == "numpy\n"
    assert (dest / "link-inside").is_symlink() and (dest / "link-inside").read_bytes() == b"weights"
    assert (dest / "code/hard").read_bytes() == b"weights"
    assert (dest / "code/up-but-inside").read_bytes() == b"weights"


@pytest.mark.parametrize(
    ("member", "why"),
    [
        (_file("/etc/evil"), "absolute path"),
        (_file("../evil"), "'..'"),
        (_file("a/../../evil"), "'..'"),
        (_file("a/b/../../../evil"), "'..'"),
        (_typed("abs-link", tarfile.SYMTYPE, "/etc/passwd"), "symlink pointing outside"),
        (_typed("rel-link", tarfile.SYMTYPE, "../../outside"), "symlink pointing outside"),
        (_typed("d/rel-link", tarfile.SYMTYPE, "../.."), "symlink pointing outside"),
        (_typed("hard", tarfile.LNKTYPE, "/etc/passwd"), "hard link pointing outside"),
        (_typed("hard", tarfile.LNKTYPE, "../outside"), "hard link pointing outside"),
        (_typed("fifo", tarfile.FIFOTYPE), "is a FIFO"),
        (_typed("tty", tarfile.CHRTYPE), "is a device"),
        (_typed("disk", tarfile.BLKTYPE), "is a device"),
        (_file(""), "empty"),
    ],
)
@pytest.mark.usefixtures("pep706")
def test_refuses_unsafe_members(tmp_path: Path, member: Member, why: str) -> None:
    tar = _make_tar(tmp_path / "evil.tar.gz", [_file("ok.txt"), member])
    with pytest.raises(UnsafeArchiveError) as info:
        safe_extract(tar, tmp_path / "out")
    assert why in str(info.value)
    assert info.value.member == member[0]
    assert repr(member[0]) in str(info.value)
    assert not (tmp_path / "out").exists(), "nothing is written when any member is unsafe"
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()


@pytest.mark.usefixtures("pep706")
def test_refuses_members_below_a_symlink(tmp_path: Path) -> None:
    tar = _make_tar(tmp_path / "evil.tar", [
        _typed("inner", tarfile.SYMTYPE, "."),
        _file("inner/../x"),
    ], "w")
    with pytest.raises(UnsafeArchiveError, match="'..'"):
        safe_extract(tar, tmp_path / "out")
    tar = _make_tar(tmp_path / "evil2.tar", [
        _typed("sub", tarfile.SYMTYPE, "real"),
        _file("sub/payload.txt"),
    ], "w")
    with pytest.raises(UnsafeArchiveError, match="below the link 'sub'") as info:
        safe_extract(tar, tmp_path / "out2")
    assert info.value.member == "sub/payload.txt"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"this is not an archive at all", "not a readable"),
        (gzip.compress(b"gzip but not a tar" * 100), "not a readable"),
        (b"", "not a readable"),
    ],
)
def test_not_an_archive(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "model.tar.gz"
    path.write_bytes(content)
    with pytest.raises(InvalidArchiveError, match=fragment):
        safe_extract(path, tmp_path / "out")


def test_truncated_archive(tmp_path: Path) -> None:
    tar = _make_tar(tmp_path / "m.tar.gz", [_file("big.bin", bytes(range(256)) * 4000)])
    data = tar.read_bytes()
    tar.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidArchiveError):
        safe_extract(tar, tmp_path / "out")


def test_missing_archive(tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFoundError, match="does not exist"):
        safe_extract(tmp_path / "none.tar.gz", tmp_path / "out")


def _sample_dir(root: Path) -> Path:
    (root / "code/lib").mkdir(parents=True)
    (root / "model.pth").write_bytes(b"weights")
    (root / "code/inference.py").write_text("x = 1\n")
    (root / "code/lib/util.py").write_text("y = 2\n")
    (root / "code/requirements.txt").write_text("numpy\n")
    (root / "a-first.txt").write_text("a")
    (root / "empty").mkdir()
    return root


def test_pack_dir_names_are_relative_and_sorted(tmp_path: Path) -> None:
    src = _sample_dir(tmp_path / "src")
    out = pack_dir(src, tmp_path / "model.tar.gz")
    with tarfile.open(out, "r:gz") as archive:
        names = archive.getnames()
        owners = {(m.uid, m.gid, m.uname, m.gname) for m in archive.getmembers()}
    assert names == [
        "a-first.txt", "code", "code/inference.py", "code/lib", "code/lib/util.py",
        "code/requirements.txt", "empty", "model.pth",
    ]
    assert owners == {(0, 0, "", "")}


def test_pack_dir_is_deterministic_in_order(tmp_path: Path) -> None:
    src = _sample_dir(tmp_path / "src")
    first = pack_dir(src, tmp_path / "one.tar.gz")
    second = pack_dir(src, tmp_path / "two.tar.gz")
    with tarfile.open(first) as a, tarfile.open(second) as b:
        assert a.getnames() == b.getnames()
        assert [m.size for m in a.getmembers()] == [m.size for m in b.getmembers()]


def test_pack_then_extract_round_trip(tmp_path: Path) -> None:
    src = _sample_dir(tmp_path / "src")
    out = safe_extract(pack_dir(src, tmp_path / "m.tar.gz"), tmp_path / "out")
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert files == sorted(p.relative_to(src).as_posix() for p in src.rglob("*"))
    assert (out / "code/lib/util.py").read_text() == "y = 2\n"


def test_pack_dir_into_itself_skips_the_archive(tmp_path: Path) -> None:
    src = _sample_dir(tmp_path / "src")
    pack_dir(src, src / "model.tar.gz")
    with tarfile.open(src / "model.tar.gz") as archive:
        assert "model.tar.gz" not in archive.getnames()
        assert "model.pth" in archive.getnames()


def test_pack_missing_dir(tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFoundError):
        pack_dir(tmp_path / "none", tmp_path / "x.tar.gz")
