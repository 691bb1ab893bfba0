"""Image URIs → ``ImageSpec``: what to install and what to run for a container image.

::

    uri ──► ImageRegistry.resolve ──► registered (bring-your-own) image? ──► ImageSpec(kind="byoc")
                                 └──► SageMaker framework image?        ──► ImageSpec(kind="toolkit")
                                 └──► neither                           ──► UnknownImageError

Framework images run modelyard's toolkit (``python -m modelyard.toolkit serve|train``) in a venv
holding the framework's packages (see ``frameworks`` for the version table). Registered images are
directories; see ``byoc`` for their layout.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

from modelyard.runtime.byoc import MANIFEST_NAME, ImageManifest, content_digest, read_manifest
from modelyard.runtime.errors import ImageRegistrationError, UnknownImageError
from modelyard.runtime.frameworks import KNOWN_FRAMEWORKS, match_framework_image, parse_image_reference

TOOLKIT_SERVE = ("python", "-m", "modelyard.toolkit", "serve")
TOOLKIT_TRAIN = ("python", "-m", "modelyard.toolkit", "train")
TOOLKIT_RECIPE = "toolkit-1"


@dataclass(frozen=True)
class ImageSpec:
    """Everything the runtime needs to know about one image.

    ``kind`` is ``"toolkit"`` (a framework image served by modelyard's toolkit) or ``"byoc"``
    (a registered directory). Commands are argv tuples; a leading ``python`` means the
    environment's interpreter. ``key`` is stable for equal images and feeds the environment hash.
    ``writable`` names the container directories the image writes (see ``byoc``).
    """

    uri: str
    kind: str
    framework: str | None
    framework_version: str | None
    packages: tuple[str, ...]
    serve_command: tuple[str, ...]
    train_command: tuple[str, ...]
    key: str
    directory: Path | None = None
    env: dict[str, str] = field(default_factory=dict, hash=False)
    writable: tuple[str, ...] = ()

    def command(self, mode: str) -> list[str]:
        """The argv for ``mode`` (``"serve"`` or ``"train"``); raises when the image has none."""
        if mode not in ("serve", "train"):
            raise ValueError(f"mode must be 'serve' or 'train', not {mode!r}")
        argv = self.serve_command if mode == "serve" else self.train_command
        if not argv:
            raise ImageRegistrationError(
                f'image {self.uri} has no {mode} command: add "{mode}": [argv...] to its {MANIFEST_NAME} '
                f"or an executable named {mode} to its directory, then register it again"
            )
        return list(argv)


def unknown_image_message(uri: str) -> str:
    """The explanation given for an image modelyard cannot run, including how to register it."""
    return (
        f"Unknown image {uri!r}: it is not a SageMaker framework image modelyard recognizes "
        f"({', '.join(KNOWN_FRAMEWORKS)}, or a plain python image) and it is not registered. "
        f"To run your own image, register a directory for it: `modelyard images register {uri} <dir>`. "
        f'<dir> must contain {MANIFEST_NAME} with {{"serve": [argv...], "train": [argv...], '
        f'"env": {{...}}, "writable": [dirs...]}} (or "entrypoint": [argv...], given serve/train as its '
        f"argument), or "
        f"executables named `serve` and/or `train` as in a Docker image; an optional requirements.txt "
        f"is installed into the image's environment. The directory is copied when registered."
    )


def resolve_framework_image(uri: str) -> ImageSpec:
    """The ImageSpec of a SageMaker framework (or plain python) image; UnknownImageError otherwise."""
    ref = parse_image_reference(uri)
    match = match_framework_image(ref) if ref else None
    if ref is None or match is None:
        raise UnknownImageError(uri, unknown_image_message(uri))
    if match.problem:
        raise UnknownImageError(uri, f"Image {uri}: {match.problem}")
    return ImageSpec(
        uri=uri,
        kind="toolkit",
        framework=match.framework,
        framework_version=match.framework_version,
        packages=match.packages,
        serve_command=TOOLKIT_SERVE,
        train_command=TOOLKIT_TRAIN,
        key=f"{TOOLKIT_RECIPE}:{match.framework or 'python'}",
    )


class ImageRegistry:
    """Registered (bring-your-own) images, persisted under ``root``.

    Each image is ``root/<slug>.json`` plus a private copy of its directory, ``root/<slug>-<digest>/``,
    so later edits of the source directory never change a registered image.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def register(self, uri: str, directory: Path | str) -> ImageSpec:
        """Copy ``directory`` and record it as image ``uri`` (replacing an earlier registration)."""
        canonical = _canonical(uri)
        source = Path(directory).expanduser().resolve()
        if not source.is_dir():
            raise ImageRegistrationError(f"cannot register {uri}: {source} is not a directory")
        read_manifest(source)
        slug = _slug(canonical)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        try:
            copy = staging / "image"
            shutil.copytree(
                source, copy, symlinks=False, ignore=shutil.ignore_patterns("__pycache__", ".git")
            )
            _readable_by_containers(copy)
            manifest = read_manifest(copy)
            digest = content_digest(copy)
            with self._locked():
                target = self.root / f"{slug}-{digest[:16]}"
                previous = self._load_record(canonical)
                if not target.exists():
                    copy.rename(target)
                record = {"uri": canonical, "directory": target.name, "digest": digest, "source": str(source)}
                _write_json(self.root / f"{slug}.json", record)
                if previous and previous["directory"] != target.name:
                    shutil.rmtree(self.root / previous["directory"], ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return _byoc_spec(canonical, target, digest, manifest)

    def resolve(self, uri: str) -> ImageSpec:
        """Registered images first, then framework images; UnknownImageError names the fix."""
        ref = parse_image_reference(uri)
        if ref is not None:
            record = self._load_record(ref.canonical)
            if record is not None:
                return self._spec_from_record(record)
        return resolve_framework_image(uri)

    def problem(self, uri: str) -> str | None:
        """Why a container or job naming image ``uri`` must be refused when it is created (a framework
        image whose version cannot be installed here), or None. Unknown images are not refused here:
        one may be registered before the container starts."""
        ref = parse_image_reference(uri)
        if ref is None or self._load_record(ref.canonical) is not None:
            return None
        match = match_framework_image(ref)
        return None if match is None else match.problem

    def list(self) -> list[ImageSpec]:
        """Every registered image, sorted by URI."""
        specs = []
        for path in sorted(self.root.glob("*.json")):
            record = json.loads(path.read_text())
            specs.append(self._spec_from_record(record))
        return sorted(specs, key=lambda spec: spec.uri)

    def unregister(self, uri: str) -> None:
        """Forget image ``uri`` and delete its copy; UnknownImageError when it is not registered."""
        canonical = _canonical(uri)
        with self._locked():
            record = self._load_record(canonical)
            if record is None:
                raise UnknownImageError(uri, f"image {uri!r} is not registered")
            (self.root / f"{_slug(canonical)}.json").unlink()
            shutil.rmtree(self.root / record["directory"], ignore_errors=True)

    def _spec_from_record(self, record: dict[str, str]) -> ImageSpec:
        directory = self.root / record["directory"]
        return _byoc_spec(record["uri"], directory, record["digest"], read_manifest(directory))

    def _load_record(self, canonical: str) -> dict[str, str] | None:
        path = self.root / f"{_slug(canonical)}.json"
        if not path.exists():
            return None
        record: dict[str, str] = json.loads(path.read_text())
        return record if record.get("uri") == canonical else None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.root / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _byoc_spec(uri: str, directory: Path, digest: str, manifest: ImageManifest) -> ImageSpec:
    return ImageSpec(
        uri=uri,
        kind="byoc",
        framework=None,
        framework_version=None,
        packages=manifest.requirements,
        serve_command=manifest.absolute(manifest.serve, directory),
        train_command=manifest.absolute(manifest.train, directory),
        key=f"byoc:{uri}:{digest}",
        directory=directory,
        env=dict(manifest.env),
        writable=manifest.writable,
    )


def _canonical(uri: str) -> str:
    ref = parse_image_reference(uri)
    if ref is None:
        raise ImageRegistrationError(f"{uri!r} is not a valid image URI (expected [registry/]name[:tag])")
    return ref.canonical


def _slug(canonical: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", canonical)[-80:].lstrip("._-")
    return f"{readable}-{sha256(canonical.encode()).hexdigest()[:12]}"


def _write_json(path: Path, data: dict[str, str]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(temporary, path)


def _readable_by_containers(directory: Path) -> None:
    """Make an image copy readable (not writable) by the unprivileged uid containers run as."""
    for root, _dirs, files in os.walk(directory):
        os.chmod(root, 0o755)
        for name in files:
            path = os.path.join(root, name)
            mode = os.stat(path).st_mode & 0o777
            os.chmod(path, (mode | 0o444 | (0o111 if mode & 0o100 else 0)) & 0o755)
