"""The local-path policy: file:// modes, the allow-list by real path, and the protected areas."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.settings import Settings, settings_from_env
from modelyard.storage import ObjectStore, parse_location
from modelyard.storage.errors import ForbiddenLocationError
from modelyard.storage.local_policy import LocalPathPolicy


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "server-data"
    path.mkdir()
    return path


@pytest.fixture()
def user_root(tmp_path: Path) -> Path:
    path = tmp_path / "user"
    (path / "models").mkdir(parents=True)
    (path / "models" / "m.tar.gz").write_bytes(b"x")
    return path


def refused(policy: LocalPathPolicy, uri: str | Path) -> str:
    with pytest.raises(ForbiddenLocationError) as info:
        policy.check(parse_location(uri))
    return str(info.value)


def test_any_mode_accepts_user_paths_but_never_the_data_dir(data_dir: Path, user_root: Path) -> None:
    policy = LocalPathPolicy(mode="any", data_dir=data_dir)
    policy.check(parse_location(user_root.as_uri() + "/models/"))
    message = refused(policy, data_dir.as_uri() + "/")
    assert "the server's data directory" in message
    assert str(data_dir) not in message.replace(data_dir.as_uri(), "")
    refused(policy, data_dir / "artifacts" / "x")
    refused(policy, data_dir.parent)


@pytest.mark.parametrize("area", ["/proc/self/environ", "/sys/kernel", "/dev/zero"])
def test_system_areas_are_refused_in_every_mode(area: str, data_dir: Path) -> None:
    assert "system area" in refused(LocalPathPolicy(mode="any", data_dir=data_dir), area)


def test_the_filesystem_root_is_refused_because_it_holds_protected_areas() -> None:
    assert "system area" in refused(LocalPathPolicy(mode="any"), "file:///")


def test_a_link_into_the_data_dir_is_judged_by_its_real_path(data_dir: Path, user_root: Path) -> None:
    (user_root / "innocent").symlink_to(data_dir)
    policy = LocalPathPolicy(mode="allow-list", roots=(user_root,), data_dir=data_dir)
    assert "the server's data directory" in refused(policy, user_root / "innocent" / "modelyard.db")


def test_allow_list_accepts_only_real_paths_under_a_root(data_dir: Path, user_root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    policy = LocalPathPolicy(mode="allow-list", roots=(user_root,), data_dir=data_dir)
    policy.check(parse_location(user_root / "models" / "m.tar.gz"))
    policy.check(parse_location(user_root / "new-output" / "deeper"))
    assert "MODELYARD_FILE_ROOTS" in refused(policy, outside)
    refused(policy, f"file://{user_root}/models/../../elsewhere")
    (user_root / "escape").symlink_to(outside)
    refused(policy, user_root / "escape" / "x")
    refused(policy, "/etc/shadow")


def test_off_refuses_every_local_path_but_not_s3(data_dir: Path, user_root: Path) -> None:
    policy = LocalPathPolicy(mode="off", data_dir=data_dir)
    assert "MODELYARD_FILE_URIS=off" in refused(policy, user_root)
    policy.check(parse_location("s3://bucket/key"))


def test_settings_read_the_mode_and_roots_from_the_environment(tmp_path: Path) -> None:
    settings = settings_from_env({"MODELYARD_FILE_URIS": "allow-list",
                                  "MODELYARD_FILE_ROOTS": f"{tmp_path / 'a'}:{tmp_path / 'b'}"})
    assert settings.file_uri_mode == "allow-list"
    assert settings.file_roots == (tmp_path / "a", tmp_path / "b")
    assert Settings().file_uri_mode == "allow-list"  # server mode: authentication is on by default
    assert Settings(auth=False).file_uri_mode == "any"
    with pytest.raises(ValueError, match="MODELYARD_FILE_URIS"):
        settings_from_env({"MODELYARD_FILE_URIS": "sometimes"})


def test_the_object_store_applies_the_policy_when_it_reads_and_writes(data_dir: Path, user_root: Path) -> None:
    (data_dir / "modelyard.db").write_bytes(b"secrets")
    store = ObjectStore(policy=LocalPathPolicy(mode="any", data_dir=data_dir))
    link = user_root / "later-a-link"
    link.symlink_to(data_dir / "modelyard.db")
    with pytest.raises(ForbiddenLocationError):
        store.read_bytes(link)
    with pytest.raises(ForbiddenLocationError):
        store.write_bytes(data_dir / "planted", b"x")
    with pytest.raises(ForbiddenLocationError):
        store.download_prefix(data_dir.as_uri() + "/", user_root / "copy")
    assert not (data_dir / "planted").exists()
    assert not (user_root / "copy").exists()
