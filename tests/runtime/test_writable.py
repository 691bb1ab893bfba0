"""Writable directories of bring-your-own images: the manifest key and the sandbox's private layers."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.runtime import ContainerStartError, ImageRegistrationError, ImageRegistry, ProcessBackend, sandbox, view

from .conftest import last_json, python_spec, run_to_end

REFUSED = ("EROFS", "EACCES")
PROBE = """
import errno, json, os, sys
results = {}
for path in sys.argv[1:]:
    try:
        with open(path, "a") as handle:
            handle.write("+inside")
        results[path] = "ok"
    except OSError as exc:
        results[path] = errno.errorcode[exc.errno]
print(json.dumps(results))
"""


@pytest.fixture()
def host_dir() -> Iterator[Path]:
    """A host directory outside /tmp (which the sandbox replaces) with a file of each kind."""
    path = Path(tempfile.mkdtemp(prefix="modelyard-writable-", dir="/var/tmp"))
    (path / "small.conf").write_text("host")
    (path / "small.conf").chmod(0o640)
    (path / "big.bin").write_bytes(b"x" * (sandbox.COPY_LIMIT_BYTES + 1))
    (path / "sub").mkdir()
    (path / "sub" / "inner.conf").write_text("host")
    (path / "link").symlink_to("small.conf")
    yield path
    shutil.rmtree(path)


def _manifest_dir(tmp_path: Path, writable: object) -> Path:
    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    (source / "modelyard-image.json").write_text(json.dumps({"serve": ["python", "-V"], "writable": writable}))
    return source


def test_manifest_writable_is_normalized_and_reaches_the_image_spec(tmp_path: Path) -> None:
    source = _manifest_dir(tmp_path, ["/etc/", "/opt/program", "/etc"])
    spec = ImageRegistry(tmp_path / "images").register("my-image:1", source)
    assert spec.writable == ("/etc", "/opt/program")
    assert ImageRegistry(tmp_path / "images").resolve("my-image:1").writable == ("/etc", "/opt/program")
    assert ImageRegistry(tmp_path / "images").resolve("python:3.11").writable == ()


@pytest.mark.parametrize(
    ("writable", "match"),
    [
        ("/etc", "list of absolute directory paths"),
        ([3], "list of absolute directory paths"),
        (["etc"], "absolute, normalized"),
        (["/"], "absolute, normalized"),
        (["/usr/../etc"], "absolute, normalized"),
        (["/proc/sys"], "lies in /proc"),
        (["/tmp"], "lies in /tmp"),
        (["/opt/ml/model"], "lies in /opt/ml"),
    ],
)
def test_manifest_refuses_bad_writable_paths(tmp_path: Path, writable: object, match: str) -> None:
    with pytest.raises(ImageRegistrationError, match=match):
        ImageRegistry(tmp_path / "images").register("bad", _manifest_dir(tmp_path, writable))


def test_writable_layer_copies_small_files_and_keeps_the_rest_read_only(
    sandboxed_backend: ProcessBackend, tmp_path: Path, host_dir: Path
) -> None:
    code = PROBE + (
        "d = sys.argv[1].rsplit('/', 1)[0]\n"
        "print(json.dumps({'small': open(d + '/small.conf').read(),"
        " 'mode': oct(os.stat(d + '/small.conf').st_mode & 0o777),"
        " 'link': os.readlink(d + '/link'), 'inner': open(d + '/sub/inner.conf').read(),"
        " 'listing': sorted(os.listdir(d))}))\n"
    )
    spec = python_spec(tmp_path, code, writable=[str(host_dir)])
    targets = [f"{host_dir}/new.txt", f"{host_dir}/small.conf", f"{host_dir}/big.bin", f"{host_dir}/sub/inner.conf"]
    spec.argv += targets
    code_, log = run_to_end(sandboxed_backend, spec)
    assert code_ == 0, log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    writes, seen = lines[-2], lines[-1]
    assert writes[targets[0]] == "ok" and writes[targets[1]] == "ok"
    assert writes[targets[2]] in REFUSED and writes[targets[3]] in REFUSED
    assert seen["small"] == "host+inside" and int(seen["mode"], 8) & 0o640 == 0o640
    assert seen["link"] == "small.conf" and seen["inner"] == "host"
    assert seen["listing"] == ["big.bin", "link", "new.txt", "small.conf", "sub"]
    assert (host_dir / "small.conf").read_text() == "host"
    assert not (host_dir / "new.txt").exists()
    assert sorted(p.name for p in host_dir.iterdir()) == ["big.bin", "link", "small.conf", "sub"]


def test_etc_shows_only_the_allow_list_while_new_files_can_be_created(
    sandboxed_backend: ProcessBackend, tmp_path: Path
) -> None:
    name = f"modelyard-{uuid.uuid4().hex}.properties"
    code = (
        "import json, os, sys\n"
        f"open('/etc/{name}', 'w').write('inference_address=http://0.0.0.0:8080')\n"
        "print(json.dumps({'passwd': open('/etc/passwd').read(), 'ssl': os.path.isdir('/etc/ssl'),"
        f" 'mine': open('/etc/{name}').read(), 'others': sorted(os.listdir('/etc'))}}))\n"
    )
    code_, log = run_to_end(sandboxed_backend, python_spec(tmp_path, code, writable=["/etc"]))
    assert code_ == 0, log
    seen = last_json(log)
    assert "model:x:" in seen["passwd"] and "daemon:" not in seen["passwd"]
    assert seen["ssl"] is os.path.isdir("/etc/ssl")
    assert seen["mine"] == "inference_address=http://0.0.0.0:8080"
    allowed = {Path(p).name for p in view.etc_entries()} | {"passwd", "group", name}
    assert set(seen["others"]) == allowed
    assert "shadow" not in seen["others"]
    assert not Path("/etc", name).exists()


def test_without_the_key_etc_is_read_only(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    spec = python_spec(tmp_path, PROBE)
    spec.argv.append(f"/etc/modelyard-{uuid.uuid4().hex}")
    code, log = run_to_end(sandboxed_backend, spec)
    assert code == 0, log
    assert list(last_json(log).values()) == ["EROFS"]


def test_directories_under_opt_are_created_and_opt_stays_read_only(
    sandboxed_backend: ProcessBackend, tmp_path: Path
) -> None:
    spec = python_spec(tmp_path, PROBE, writable=["/opt/program", "/opt/program/logs"])
    targets = ["/opt/program/serve.log", "/opt/program/logs/a.log", "/opt/elsewhere", "/opt/ml/out.txt"]
    spec.argv += targets
    code, log = run_to_end(sandboxed_backend, spec)
    assert code == 0, log
    assert last_json(log) == {targets[0]: "ok", targets[1]: "ok", targets[2]: "EROFS", targets[3]: "ok"}
    assert (tmp_path / "opt_ml" / "out.txt").read_text() == "+inside"


def test_writable_opt_keeps_opt_ml_bound(sandboxed_backend: ProcessBackend, tmp_path: Path) -> None:
    spec = python_spec(tmp_path, PROBE, writable=["/opt"])
    spec.argv += ["/opt/anything", "/opt/ml/out.txt"]
    code, log = run_to_end(sandboxed_backend, spec)
    assert code == 0, log
    assert last_json(log) == {"/opt/anything": "ok", "/opt/ml/out.txt": "ok"}
    assert (tmp_path / "opt_ml" / "out.txt").exists()


def test_binds_may_target_a_writable_directory(
    sandboxed_backend: ProcessBackend, tmp_path: Path, host_dir: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "data.txt").write_text("bound")
    spec = python_spec(tmp_path, "import sys; print(open(sys.argv[1]).read())", writable=[str(host_dir)],
                       ro_binds=[(shared, f"{host_dir}/not-on-host")])
    spec.argv.append(f"{host_dir}/not-on-host/data.txt")
    code, log = run_to_end(sandboxed_backend, spec)
    assert code == 0 and log.strip().endswith("bound"), log


def test_file_count_limit_binds_the_rest(
    sandboxed_backend: ProcessBackend, tmp_path: Path, host_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (host_dir / "zz.conf").write_text("host")
    monkeypatch.setattr(sandbox, "COPY_LIMIT_FILES", 1)
    assert sandbox.files_to_copy([str(host_dir)]) == [f"{host_dir}/small.conf"]
    spec = python_spec(tmp_path, PROBE, writable=[str(host_dir)])
    spec.argv += [f"{host_dir}/small.conf", f"{host_dir}/zz.conf"]
    code, log = run_to_end(sandboxed_backend, spec)
    assert code == 0, log
    first, second = last_json(log).values()
    assert first == "ok" and second in REFUSED


@pytest.mark.parametrize(
    ("writable", "match"),
    [
        (["/usr/modelyard-missing"], "does not exist on this host"),
        (["/etc/passwd"], "not a directory"),
        (["/proc"], "lies in /proc"),
        (["relative"], "absolute"),
    ],
)
def test_unusable_writable_paths_refuse_to_start(
    sandboxed_backend: ProcessBackend, tmp_path: Path, writable: list[str], match: str
) -> None:
    with pytest.raises(ContainerStartError, match=match):
        sandboxed_backend.start(python_spec(tmp_path, "pass", writable=writable))


def test_missing_directory_under_another_writable_one_is_allowed(host_dir: Path) -> None:
    assert sandbox.writable_problem(f"{host_dir}/later", [str(host_dir), f"{host_dir}/later"]) is None
    assert sandbox.writable_problem(f"{host_dir}/later", [f"{host_dir}/later"]) is not None


def test_plain_backend_warns_that_host_directories_are_written(
    plain_backend: ProcessBackend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="modelyard.runtime"):
        code, _ = run_to_end(plain_backend, python_spec(tmp_path, "pass", writable=["/etc"]))
    assert code == 0
    assert "writes the host's own /etc" in caplog.text
