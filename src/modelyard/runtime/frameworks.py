"""SageMaker framework image URIs → framework, version and the pip packages that stand in for the image.

An image reference is ``[registry/][namespace/]repository[:tag][@digest]``. Only the last path component
(the repository) decides the framework, so ECR URIs of any account and region, mirrors and bare names
all match. Repository names are the ones in the sagemaker SDK's ``image_uri_config/*.json`` plus the
Deep Learning Containers variants users write by hand.

Versions come from the tag, and the tag's release line is what gets installed (``==X.Y.*``). A line
with no build for the Python modelyard builds environments with (CPython 3.11: wheels only) is
refused, naming the nearest SageMaker version that works, never replaced by another release; a tag
without a version (``latest``, none) gets the newest release:

=============  ==============================  ==========================================  ================
framework      image tag                       packages                                    refused (tags)
=============  ==============================  ==========================================  ================
sklearn        ``X.Y-N…`` (1.2-1, 1.4-2)        ``scikit-learn==X.Y.*``, numpy (``<2``      below 1.1 (0.20.0,
                                               below 1.4), pandas                          0.23-1, 1.0-1)
xgboost        ``X.Y-N…`` (0.90-2, 1.7-1)       ``xgboost==X.Y.*``, numpy<2 (numpy from     none
                                               2.1), scipy for 0.90
xgboost        ``1`` (legacy repo), latest      xgboost, numpy                              -
pytorch        ``X.Y.Z-…``                      ``torch==X.Y.*``, numpy (``<2`` below 2.3)   below 1.13
tensorflow     ``X.Y[.Z]-…``                    ``tensorflow==X.Y.*``                        below 2.12
huggingface    ``B-transformersT-…``            ``transformers==T.*`` + the base (torch or  transformers
                                               tensorflow) pinned as above from B          below 4.17, or
                                                                                           its base refused
generic        python, library/python,          (none: toolkit only)                        -
               modelyard/python,
               sagemaker-base-python
=============  ==============================  ==========================================  ================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FRAMEWORK_REPOSITORIES: dict[str, str] = {
    "sagemaker-scikit-learn": "sklearn",
    "sagemaker-xgboost": "xgboost",
    "xgboost": "xgboost",
    "pytorch-inference": "pytorch",
    "pytorch-training": "pytorch",
    "pytorch-inference-graviton": "pytorch",
    "pytorch-inference-arm64": "pytorch",
    "pytorch-training-arm64": "pytorch",
    "pytorch-inference-eia": "pytorch",
    "sagemaker-pytorch": "pytorch",
    "tensorflow-inference": "tensorflow",
    "tensorflow-training": "tensorflow",
    "tensorflow-inference-graviton": "tensorflow",
    "tensorflow-inference-arm64": "tensorflow",
    "tensorflow-inference-eia": "tensorflow",
    "sagemaker-tensorflow": "tensorflow",
    "sagemaker-tensorflow-serving": "tensorflow",
    "sagemaker-tensorflow-scriptmode": "tensorflow",
    "huggingface-pytorch-inference": "huggingface-pytorch",
    "huggingface-pytorch-training": "huggingface-pytorch",
    "huggingface-pytorch-trcomp-training": "huggingface-pytorch",
    "huggingface-tensorflow-inference": "huggingface-tensorflow",
    "huggingface-tensorflow-training": "huggingface-tensorflow",
    "huggingface-tensorflow-trcomp-training": "huggingface-tensorflow",
}
GENERIC_PATHS = frozenset({"python", "library/python", "modelyard/python", "modelyard/toolkit"})
GENERIC_REPOSITORIES = frozenset({"sagemaker-base-python"})
KNOWN_FRAMEWORKS = ("sklearn", "xgboost", "pytorch", "tensorflow", "huggingface")

_SAGEMAKER_VERSION = re.compile(r"^(\d+(?:\.\d+)*)(?:-(\d+))?(?=-|$)")
_DLC_VERSION = re.compile(r"^(\d+(?:\.\d+)*)(?=-|$)")
_HF_VERSION = re.compile(r"^(\d+(?:\.\d+)*)-transformers(\d+(?:\.\d+)*)(?=-|$)")


@dataclass(frozen=True)
class ImageReference:
    """A parsed image URI."""

    registry: str | None
    path: str
    tag: str | None
    digest: str | None

    @property
    def repository(self) -> str:
        """The last path component, e.g. ``sagemaker-scikit-learn``."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def canonical(self) -> str:
        """The URI with Docker's implicit ``:latest`` made explicit (used as a registry key)."""
        text = f"{self.registry}/{self.path}" if self.registry else self.path
        if self.tag or not self.digest:
            text += f":{self.tag or 'latest'}"
        if self.digest:
            text += f"@{self.digest}"
        return text


@dataclass(frozen=True)
class FrameworkImage:
    """What a framework image stands for: ``framework`` None means the generic toolkit image."""

    framework: str | None
    framework_version: str | None
    packages: tuple[str, ...]
    problem: str | None = None
    """Why this tag cannot be served as named (its release line does not install here), or None."""


def parse_image_reference(uri: str) -> ImageReference | None:
    """Split an image URI into registry, path, tag and digest; None when it is not a valid reference."""
    text = uri.strip()
    if not text or any(c.isspace() for c in text):
        return None
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
    tag = None
    head, _, last = text.rpartition("/")
    if ":" in last:
        last, tag = last.split(":", 1)
    path = f"{head}/{last}" if head else last
    registry = None
    first, sep, rest = path.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    if not path or not re.fullmatch(r"[a-z0-9][a-z0-9._/-]*", path.lower()) or tag == "":
        return None
    return ImageReference(registry=registry, path=path, tag=tag, digest=digest)


@dataclass(frozen=True)
class _Line:
    """A framework's release lines as far as this Python can install them."""

    label: str
    oldest: tuple[int, int]
    nearest_tag: str
    """The oldest SageMaker image version whose line installs (what a refusal suggests)."""


_LINES = {
    "sklearn": _Line("scikit-learn", (1, 1), "1.2-1"),
    "pytorch": _Line("PyTorch", (1, 13), "1.13.1"),
    "tensorflow": _Line("TensorFlow", (2, 12), "2.12.0"),
    "transformers": _Line("transformers", (4, 17), "4.17.0"),
}
_PYTHON = "CPython 3.11"


def _check(framework: str, version: str | None, tag: str | None) -> str | None:
    """Why ``version`` of ``framework`` cannot be installed (None when it can); ``tag``, when given, is
    the image tag starting with ``version``, rewritten into the suggested tag."""
    mm = _major_minor(version)
    line = _LINES[framework]
    if mm is None or version is None or mm >= line.oldest:
        return None
    suggestion = f" (image tag {line.nearest_tag}{tag[len(version):]})" if tag else ""
    return (f"{line.label} {version} cannot be installed here: its releases have no build for {_PYTHON}, the "
            f"Python modelyard builds model and job environments with. The nearest version that works is "
            f"{line.nearest_tag}{suggestion}; use that, or register an image of your own with "
            "`modelyard images register`")


def match_framework_image(ref: ImageReference) -> FrameworkImage | None:
    """The framework image ``ref`` names, or None when it is not one modelyard recognizes."""
    path = ref.path.lower()
    repository = ref.repository.lower()
    if path in GENERIC_PATHS or repository in GENERIC_REPOSITORIES:
        return FrameworkImage(framework=None, framework_version=None, packages=())
    family = FRAMEWORK_REPOSITORIES.get(repository)
    if family is None:
        return None
    tag = (ref.tag or "").lower()
    if family == "sklearn":
        version = _sagemaker_version(tag)
        return FrameworkImage("sklearn", version, _sklearn_packages(version), _check("sklearn", version, tag))
    if family == "xgboost":
        version = _sagemaker_version(tag)
        pinnable = version if repository == "sagemaker-xgboost" else None
        return FrameworkImage("xgboost", version, _xgboost_packages(pinnable))
    if family == "pytorch":
        version = _dlc_version(tag)
        return FrameworkImage("pytorch", version, _torch_packages(version), _check("pytorch", version, tag))
    if family == "tensorflow":
        version = _dlc_version(tag)
        return FrameworkImage("tensorflow", version, _tensorflow_packages(version),
                              _check("tensorflow", version, tag))
    return _huggingface(family, tag)


def _huggingface(family: str, tag: str) -> FrameworkImage:
    match = _HF_VERSION.match(tag)
    base_version, transformers_version = (match.group(1), match.group(2)) if match else (None, None)
    base_family = "pytorch" if family == "huggingface-pytorch" else "tensorflow"
    base = _torch_packages(base_version) if base_family == "pytorch" else _tensorflow_packages(base_version)
    problem = None
    if transformers_version is not None:
        problem = _check("transformers", transformers_version, None) or _check(base_family, base_version, None)
    return FrameworkImage(
        "huggingface", transformers_version, _transformers_packages(transformers_version) + base, problem
    )


def _sagemaker_version(tag: str) -> str | None:
    match = _SAGEMAKER_VERSION.match(tag)
    return match.group(0) if match else None


def _dlc_version(tag: str) -> str | None:
    match = _DLC_VERSION.match(tag)
    return match.group(1) if match else None


def _major_minor(version: str | None) -> tuple[int, int] | None:
    if not version:
        return None
    parts = re.split(r"[.-]", version)
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    return int(parts[0]), int(parts[1])


def _sklearn_packages(version: str | None) -> tuple[str, ...]:
    mm = _major_minor(version)
    if mm is None:
        return ("scikit-learn", "numpy", "pandas")
    return (f"scikit-learn=={mm[0]}.{mm[1]}.*", "numpy<2" if mm < (1, 4) else "numpy", "pandas")


def _xgboost_packages(version: str | None) -> tuple[str, ...]:
    mm = _major_minor(version)
    if mm is None:
        return ("xgboost", "numpy")
    if mm < (1, 0):
        return (f"xgboost=={mm[0]}.{mm[1]}", "numpy<2", "scipy")
    return (f"xgboost=={mm[0]}.{mm[1]}.*", "numpy<2" if mm < (2, 1) else "numpy")


def _torch_packages(version: str | None) -> tuple[str, ...]:
    mm = _major_minor(version)
    if mm is None:
        return ("torch", "numpy")
    return (f"torch=={mm[0]}.{mm[1]}.*", "numpy<2" if mm < (2, 3) else "numpy")


def _tensorflow_packages(version: str | None) -> tuple[str, ...]:
    mm = _major_minor(version)
    if mm is None:
        return ("tensorflow",)
    return (f"tensorflow=={mm[0]}.{mm[1]}.*",)


def _transformers_packages(version: str | None) -> tuple[str, ...]:
    mm = _major_minor(version)
    if mm is None:
        return ("transformers",)
    return (f"transformers=={mm[0]}.{mm[1]}.*",)
