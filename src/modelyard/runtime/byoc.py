"""The directory layout of a bring-your-own image (what ``modelyard images register`` accepts).

A registered image is a directory holding either, or both, of:

- ``modelyard-image.json``::

      {"serve": ["python", "serve.py"],        # argv run for endpoints
       "train": ["./train.sh"],                 # argv run for training / processing
       "entrypoint": ["./entry"],               # instead of serve/train: run as entry serve|train
       "env": {"MY_VAR": "value"},              # extra environment for every container
       "writable": ["/etc", "/opt/program"]}    # directories the program writes, as in its image

- executables named ``serve`` and/or ``train`` (as a Docker image for SageMaker has on its PATH),
  used for a mode the JSON file does not name;

plus an optional ``requirements.txt`` installed into the image's venv. A leading ``python`` in an
argv is the venv's interpreter; a program (or the script after ``python``) naming a file of the
directory (``serve.sh``, ``./bin/serve``, ``python serve.py``) is made absolute, so commands do not
depend on the working directory, which is the runtime's choice (``/opt/ml`` for endpoints).

The container's root is read-only (see ``sandbox``). A Docker image's own filesystem is writable,
and programs rely on it (sagemaker-inference writes ``/etc/sagemaker-mms.properties``): each
``writable`` directory gets a private, writable tmpfs per container that starts as the host's: its
files are copies the program may rewrite (``/etc/resolv.conf`` …, up to 1 MiB each), its
subdirectories stay visible read-only (``/etc/ssl``), and new files can be created. Nothing reaches
the host; writes vanish with the container. A listed directory must exist on the host, or lie under
``/opt`` or under another listed directory; ``/tmp`` and ``/opt/ml`` are writable already; ``/dev``,
``/proc`` and ``/sys`` are refused.
"""

from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

from modelyard.runtime.errors import ImageRegistrationError
from modelyard.runtime.sandbox import RESERVED

MANIFEST_NAME = "modelyard-image.json"
REQUIREMENTS_NAME = "requirements.txt"
_MANIFEST_KEYS = {"serve", "train", "entrypoint", "env", "writable"}


@dataclass(frozen=True)
class ImageManifest:
    """What a registered image directory declares."""

    serve: tuple[str, ...]
    train: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict, hash=False)
    requirements: tuple[str, ...] = ()
    writable: tuple[str, ...] = ()

    @staticmethod
    def absolute(argv: tuple[str, ...], directory: Path) -> tuple[str, ...]:
        """``argv`` with its program (or the script after ``python``) made absolute when in ``directory``."""
        if not argv:
            return argv
        if argv[0] in ("python", "python3"):
            return argv[:1] + ImageManifest.absolute(argv[1:], directory) if len(argv) > 1 else argv
        if os.path.isabs(argv[0]) or argv[0].startswith("-"):
            return argv
        candidate = directory / argv[0]
        if argv[0].startswith("./") or "/" in argv[0] or candidate.is_file():
            return (str(candidate.resolve()), *argv[1:])
        return argv


def read_manifest(directory: Path) -> ImageManifest:
    """Read and validate the image layout of ``directory``; ImageRegistrationError says what is wrong."""
    data = _load_json(directory)
    env = _string_map(data.get("env", {}), directory)
    entrypoint = _argv(data, "entrypoint", directory)
    commands = {}
    for mode in ("serve", "train"):
        argv = _argv(data, mode, directory)
        if not argv and entrypoint:
            argv = (*entrypoint, mode)
        if not argv:
            argv = _executable(directory, mode)
        commands[mode] = argv
    if not commands["serve"] and not commands["train"]:
        raise ImageRegistrationError(
            f'{directory} declares no command: add {MANIFEST_NAME} with "serve" and/or "train" argv '
            f"lists, or executables named serve / train"
        )
    return ImageManifest(
        serve=commands["serve"],
        train=commands["train"],
        env=env,
        requirements=_requirements(directory),
        writable=_writable(data.get("writable", []), directory),
    )


def content_digest(directory: Path) -> str:
    """sha256 over every file's relative path, executable bit and content."""
    digest = sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        executable = "x" if os.access(path, os.X_OK) else "-"
        digest.update(f"{relative}\0{executable}\0".encode())
        digest.update(sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _load_json(directory: Path) -> dict[str, object]:
    path = directory / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImageRegistrationError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ImageRegistrationError(f"{path} must hold a JSON object")
    unknown = sorted(set(data) - _MANIFEST_KEYS)
    if unknown:
        raise ImageRegistrationError(
            f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_MANIFEST_KEYS))}"
        )
    return data


def _argv(data: dict[str, object], key: str, directory: Path) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ImageRegistrationError(
            f'{directory / MANIFEST_NAME}: "{key}" must be a non-empty list of strings (an argv)'
        )
    return tuple(value)


def _string_map(value: object, directory: Path) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ImageRegistrationError(f'{directory / MANIFEST_NAME}: "env" must map strings to strings')
    return dict(value)


def _writable(value: object, directory: Path) -> tuple[str, ...]:
    where = f'{directory / MANIFEST_NAME}: "writable"'
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ImageRegistrationError(f"{where} must be a list of absolute directory paths")
    paths: list[str] = []
    for raw in value:
        path = raw.rstrip("/") or "/"
        if not path.startswith("/") or posixpath.normpath(path) != path or path == "/":
            raise ImageRegistrationError(f"{where}: {raw!r} must be an absolute, normalized path other than /")
        reserved = next((r for r in RESERVED if path == r or path.startswith(r + "/")), None)
        if reserved:
            raise ImageRegistrationError(f"{where}: {raw!r} lies in {reserved}, which the sandbox manages")
        if path not in paths:
            paths.append(path)
    return tuple(paths)


def _executable(directory: Path, mode: str) -> tuple[str, ...]:
    path = directory / mode
    if not path.is_file():
        return ()
    if not os.access(path, os.X_OK):
        raise ImageRegistrationError(f"{path} is not executable: run `chmod +x {path}` and register again")
    return (f"./{mode}",)


def _requirements(directory: Path) -> tuple[str, ...]:
    path = directory / REQUIREMENTS_NAME
    if not path.is_file():
        return ()
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.split()[0] in ("-r", "-c", "--requirement", "--constraint"):
            raise ImageRegistrationError(
                f"{path}: {line!r} includes another file; list those requirements in requirements.txt itself"
            )
        lines.append(line)
    return tuple(lines)
