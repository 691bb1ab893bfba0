"""Host paths of the server's own files become neutral names; users' paths stay as they are."""

from __future__ import annotations

from pathlib import Path

from modelyard.controllers.server_paths import ServerPaths


def test_server_paths_are_named_by_their_area(tmp_path: Path) -> None:
    data = tmp_path / "data"
    paths = ServerPaths(data)
    text = (f"{data}/artifacts/tmp/3f-x/artifact is corrupt; {data}/envs/ab12/lib/x.so missing; "
            f"see file://{data}/jobs/a/b and {data} itself; user file {tmp_path}/mine.csv")
    neutral = paths.neutral(text)
    assert str(data) not in neutral
    assert neutral == ("the server's artifact cache is corrupt; the model's environment missing; "
                       "see the job's workspace and the server's data directory itself; "
                       f"user file {tmp_path}/mine.csv")


def test_the_real_path_of_a_linked_data_dir_is_hidden_too(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert ServerPaths(tmp_path / "link").neutral(f"{real}/logs/x failed") == "the server's log store failed"


def test_without_a_data_dir_texts_pass_unchanged() -> None:
    assert ServerPaths(None).neutral("/anything/at/all") == "/anything/at/all"


def test_a_program_of_an_environment_is_named_by_its_name(tmp_path: Path) -> None:
    command = f'Command "{tmp_path}/envs/88bf12/bin/python probe.py --mode raise"'
    assert ServerPaths(tmp_path).neutral(command) == 'Command "python probe.py --mode raise"'
