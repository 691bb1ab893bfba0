"""Image URIs → ImageSpec: the framework table, unknown images, and the bring-your-own registry."""
# ruff: noqa: E501

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelyard.runtime import (
    ImageRegistrationError,
    ImageRegistry,
    ImageSpec,
    UnknownImageError,
    resolve_framework_image,
)
from modelyard.runtime.frameworks import parse_image_reference

ECR_SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn"
DLC = "763104351884.dkr.ecr.us-west-2.amazonaws.com"

FRAMEWORK_IMAGES = [
    (f"{ECR_SKLEARN}:1.2-1-cpu-py3", "sklearn", "1.2-1", ("scikit-learn==1.2.*", "numpy<2", "pandas")),
    (f"{ECR_SKLEARN}:1.2-1", "sklearn", "1.2-1", ("scikit-learn==1.2.*", "numpy<2", "pandas")),
    (f"{ECR_SKLEARN}:1.4-2", "sklearn", "1.4-2", ("scikit-learn==1.4.*", "numpy", "pandas")),
    ("sagemaker-scikit-learn:latest", "sklearn", None, ("scikit-learn", "numpy", "pandas")),
    ("sagemaker-scikit-learn", "sklearn", None, ("scikit-learn", "numpy", "pandas")),
    ("localhost:5000/mirror/sagemaker-scikit-learn:1.2-1", "sklearn", "1.2-1", ("scikit-learn==1.2.*", "numpy<2", "pandas")),
    (f"{ECR_SKLEARN}@sha256:{'a' * 64}", "sklearn", None, ("scikit-learn", "numpy", "pandas")),
    ("246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1", "xgboost", "1.7-1", ("xgboost==1.7.*", "numpy<2")),
    ("257758044811.dkr.ecr.us-east-2.amazonaws.com/sagemaker-xgboost:1.2-1", "xgboost", "1.2-1", ("xgboost==1.2.*", "numpy<2")),
    ("sagemaker-xgboost:1.5-1-cpu-py3", "xgboost", "1.5-1", ("xgboost==1.5.*", "numpy<2")),
    ("sagemaker-xgboost:0.90-2-cpu-py3", "xgboost", "0.90-2", ("xgboost==0.90", "numpy<2", "scipy")),
    ("811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1", "xgboost", "1", ("xgboost", "numpy")),
    (f"{DLC}/pytorch-inference:2.1.0-cpu-py310", "pytorch", "2.1.0", ("torch==2.1.*", "numpy<2")),
    (f"{DLC}/pytorch-training:2.3.0-gpu-py311-cu121-ubuntu20.04-sagemaker", "pytorch", "2.3.0", ("torch==2.3.*", "numpy")),
    (f"{DLC}/pytorch-inference:1.13.1-cpu-py39", "pytorch", "1.13.1", ("torch==1.13.*", "numpy<2")),
    (f"{DLC}/pytorch-inference-graviton:2.1.0-cpu-py310-ubuntu20.04-sagemaker", "pytorch", "2.1.0", ("torch==2.1.*", "numpy<2")),
    (f"{DLC}/tensorflow-inference:2.13-cpu", "tensorflow", "2.13", ("tensorflow==2.13.*",)),
    (f"{DLC}/tensorflow-training:2.16.1-cpu-py310-ubuntu20.04-sagemaker", "tensorflow", "2.16.1", ("tensorflow==2.16.*",)),
    (
        f"{DLC}/huggingface-pytorch-inference:2.1.0-transformers4.37.0-cpu-py310-ubuntu22.04",
        "huggingface",
        "4.37.0",
        ("transformers==4.37.*", "torch==2.1.*", "numpy<2"),
    ),
    (
        f"{DLC}/huggingface-pytorch-training:1.13.1-transformers4.26.0-gpu-py39-cu117-ubuntu20.04",
        "huggingface",
        "4.26.0",
        ("transformers==4.26.*", "torch==1.13.*", "numpy<2"),
    ),
    (
        f"{DLC}/huggingface-tensorflow-inference:2.13.0-transformers4.30.0-cpu-py310-ubuntu20.04",
        "huggingface",
        "4.30.0",
        ("transformers==4.30.*", "tensorflow==2.13.*"),
    ),
    (
        f"{DLC}/huggingface-pytorch-inference:1.13.1-transformers4.17.0-cpu-py38-ubuntu20.04",
        "huggingface",
        "4.17.0",
        ("transformers==4.17.*", "torch==1.13.*", "numpy<2"),
    ),
    ("python:3.11", None, None, ()),
    ("python", None, None, ()),
    ("docker.io/library/python:3.11-slim", None, None, ()),
    ("modelyard/python", None, None, ()),
    ("081325390199.dkr.ecr.us-east-1.amazonaws.com/sagemaker-base-python:1.0", None, None, ()),
]  # fmt: skip


REFUSED_IMAGES = [
    (f"{ECR_SKLEARN}:0.20.0-cpu-py3", "scikit-learn 0.20.0 cannot be installed here", "1.2-1 (image tag 1.2-1-cpu-py3)"),
    (f"{ECR_SKLEARN}:0.23-1", "scikit-learn 0.23-1 cannot be installed here", "1.2-1 (image tag 1.2-1)"),
    (f"{ECR_SKLEARN}:1.0-1-cpu-py3", "scikit-learn 1.0-1 cannot be installed here", "1.2-1 (image tag 1.2-1-cpu-py3)"),
    (f"{DLC}/pytorch-training:1.12.1-cpu-py38", "PyTorch 1.12.1 cannot be installed here", "1.13.1 (image tag 1.13.1-cpu-py38)"),
    (f"{DLC}/tensorflow-inference:1.15.5-cpu", "TensorFlow 1.15.5 cannot be installed here", "2.12.0 (image tag 2.12.0-cpu)"),
    (f"{DLC}/tensorflow-inference:2.11.1-cpu", "TensorFlow 2.11.1 cannot be installed here", "2.12.0"),
    (f"{DLC}/huggingface-pytorch-inference:1.9.1-transformers4.12.3-cpu-py38-ubuntu20.04", "transformers 4.12.3", "4.17.0"),
    (f"{DLC}/huggingface-pytorch-inference:1.10.2-transformers4.17.0-cpu-py38-ubuntu20.04", "PyTorch 1.10.2", "1.13.1"),
    (f"{DLC}/huggingface-tensorflow-inference:2.11.1-transformers4.26.0-cpu-py39-ubuntu20.04", "TensorFlow 2.11.1", "2.12.0"),
]  # fmt: skip


@pytest.mark.parametrize(("uri", "what", "nearest"), REFUSED_IMAGES)
def test_a_version_that_cannot_be_installed_is_refused_never_replaced(uri: str, what: str, nearest: str) -> None:
    with pytest.raises(UnknownImageError) as info:
        resolve_framework_image(uri)
    assert what in str(info.value) and f"The nearest version that works is {nearest}" in str(info.value)
    assert "CPython 3.11" in str(info.value)


@pytest.mark.parametrize(("uri", "framework", "version", "packages"), FRAMEWORK_IMAGES)
def test_framework_images(
    uri: str, framework: str | None, version: str | None, packages: tuple[str, ...]
) -> None:
    spec = resolve_framework_image(uri)
    assert (spec.kind, spec.framework, spec.framework_version, spec.packages) == (
        "toolkit",
        framework,
        version,
        packages,
    )
    assert spec.uri == uri
    assert spec.serve_command == ("python", "-m", "modelyard.toolkit", "serve")
    assert spec.train_command == ("python", "-m", "modelyard.toolkit", "train")
    assert spec.directory is None and spec.env == {}
    assert spec.command("serve") == ["python", "-m", "modelyard.toolkit", "serve"]


def test_equal_frameworks_share_a_key() -> None:
    inference = resolve_framework_image(f"{DLC}/pytorch-inference:2.1.0-cpu-py310")
    training = resolve_framework_image(f"{DLC}/pytorch-training:2.1.0-gpu-py310")
    assert inference.key == training.key
    assert inference.key != resolve_framework_image("python:3.11").key
    assert resolve_framework_image("sagemaker-scikit-learn:1.2-1").key != inference.key


@pytest.mark.parametrize(
    "uri",
    [
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-model:latest",
        "huggingface-pytorch-tgi-inference:2.1.1-tgi1.4.0-gpu-py310-cu121-ubuntu22.04",
        "mxnet-inference:1.9.0-cpu-py38",
        "",
        "not a uri",
        "UPPER/Case:tag",
    ],
)
def test_unknown_images_explain_how_to_register(uri: str) -> None:
    with pytest.raises(UnknownImageError) as caught:
        resolve_framework_image(uri)
    message = str(caught.value)
    assert caught.value.uri == uri
    assert repr(uri) in message
    assert f"modelyard images register {uri} <dir>" in message
    for detail in ("modelyard-image.json", '"serve"', '"train"', "requirements.txt", "executables"):
        assert detail in message


def test_command_of_unknown_mode() -> None:
    with pytest.raises(ValueError, match="serve"):
        resolve_framework_image("python").command("predict")


@pytest.mark.parametrize(
    ("uri", "registry", "path", "tag", "canonical"),
    [
        ("my-image", None, "my-image", None, "my-image:latest"),
        ("my-image:v1", None, "my-image", "v1", "my-image:v1"),
        ("localhost:5000/team/img:2", "localhost:5000", "team/img", "2", "localhost:5000/team/img:2"),
        ("team/img", None, "team/img", None, "team/img:latest"),
        ("r.example.com/img@sha256:ab", "r.example.com", "img", None, "r.example.com/img@sha256:ab"),
    ],
)
def test_parse_image_reference(
    uri: str, registry: str | None, path: str, tag: str | None, canonical: str
) -> None:
    ref = parse_image_reference(uri)
    assert ref is not None
    assert (ref.registry, ref.path, ref.tag, ref.canonical) == (registry, path, tag, canonical)


def _image_dir(path: Path, manifest: object | None = None, *, serve_exe: bool = False) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if manifest is not None:
        (path / "modelyard-image.json").write_text(json.dumps(manifest))
    if serve_exe:
        (path / "serve").write_text("#!/bin/sh\necho serving\n")
        (path / "serve").chmod(0o755)
    return path


def test_register_resolve_persist_unregister(tmp_path: Path) -> None:
    source = _image_dir(
        tmp_path / "src",
        {"serve": ["python", "server.py", "--port", "8080"], "train": ["./train.sh"], "env": {"A": "1"}},
    )
    (source / "server.py").write_text("print('hi')\n")
    (source / "requirements.txt").write_text("# comment\nsix==1.16.0  # pinned\n\nrequests>=2\n")
    registry = ImageRegistry(tmp_path / "images")
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-model:v1"
    spec = registry.register(uri, source)
    assert spec.kind == "byoc" and spec.framework is None
    assert spec.uri == uri
    assert spec.directory is not None and spec.directory.is_dir() and spec.directory != source
    assert (spec.directory / "server.py").read_text() == "print('hi')\n"
    assert spec.serve_command == ("python", str(spec.directory / "server.py"), "--port", "8080")
    assert spec.train_command == (str(spec.directory / "train.sh"),)
    assert spec.env == {"A": "1"}
    assert spec.packages == ("six==1.16.0", "requests>=2")
    assert spec.key.startswith(f"byoc:{uri}:")

    reopened = ImageRegistry(tmp_path / "images")
    assert reopened.resolve(uri) == spec
    assert reopened.list() == [spec]
    assert reopened.resolve("python:3.11").kind == "toolkit"

    reopened.unregister(uri)
    assert not spec.directory.exists()
    assert reopened.list() == []
    with pytest.raises(UnknownImageError, match="modelyard images register"):
        reopened.resolve(uri)
    with pytest.raises(UnknownImageError, match="not registered"):
        reopened.unregister(uri)


def test_registered_image_is_a_copy(tmp_path: Path) -> None:
    source = _image_dir(tmp_path / "src", serve_exe=True)
    registry = ImageRegistry(tmp_path / "images")
    first = registry.register("my-image", source)
    assert first.serve_command == (str(first.directory / "serve"),)
    assert first.train_command == ()
    (source / "serve").write_text("#!/bin/sh\necho changed\n")
    unchanged = registry.resolve("my-image:latest")
    assert unchanged == first
    assert first.directory is not None and "echo serving" in (first.directory / "serve").read_text()

    second = registry.register("my-image:latest", source)
    assert second.key != first.key
    assert second.directory is not None and "echo changed" in (second.directory / "serve").read_text()
    assert not first.directory.exists()
    assert registry.resolve("my-image") == second
    assert registry.register("my-image", source).key == second.key


def test_registered_image_shadows_a_framework_image(tmp_path: Path) -> None:
    registry = ImageRegistry(tmp_path / "images")
    spec = registry.register("sagemaker-scikit-learn:1.2-1", _image_dir(tmp_path / "src", serve_exe=True))
    assert registry.resolve("sagemaker-scikit-learn:1.2-1") == spec
    assert registry.resolve("sagemaker-scikit-learn:1.4-2").kind == "toolkit"


def test_create_time_problem_is_lifted_by_registering_the_image(tmp_path: Path) -> None:
    registry = ImageRegistry(tmp_path / "images")
    old = f"{ECR_SKLEARN}:0.20.0-cpu-py3"
    assert "scikit-learn 0.20.0 cannot be installed here" in (registry.problem(old) or "")
    assert registry.problem(f"{ECR_SKLEARN}:1.2-1") is None
    assert registry.problem("mine/unregistered:1") is None  # unknown images fail when run (may be registered first)
    registry.register(old, _image_dir(tmp_path / "src", serve_exe=True))
    assert registry.problem(old) is None
    assert registry.resolve(old).kind == "byoc"


def test_entrypoint_form(tmp_path: Path) -> None:
    source = _image_dir(tmp_path / "src", {"entrypoint": ["./entry.sh", "--verbose"]})
    (source / "entry.sh").write_text("#!/bin/sh\n")
    spec = ImageRegistry(tmp_path / "images").register("ep", source)
    assert spec.directory is not None
    assert spec.serve_command == (str(spec.directory / "entry.sh"), "--verbose", "serve")
    assert spec.train_command == (str(spec.directory / "entry.sh"), "--verbose", "train")


def test_missing_train_command_is_explained(tmp_path: Path) -> None:
    spec = ImageRegistry(tmp_path / "images").register("s", _image_dir(tmp_path / "src", serve_exe=True))
    with pytest.raises(ImageRegistrationError, match="no train command"):
        spec.command("train")


@pytest.mark.parametrize(
    ("manifest", "files", "match"),
    [
        (None, {}, "declares no command"),
        ("not json", {}, "not valid JSON"),
        ([1, 2], {}, "JSON object"),
        ({"serve": "python serve.py"}, {}, "list of strings"),
        ({"serve": []}, {}, "list of strings"),
        ({"serve": ["x"], "env": {"A": 1}}, {}, "map strings to strings"),
        ({"serve": ["x"], "command": ["y"]}, {}, "unknown key"),
        (None, {"serve": "#!/bin/sh\n"}, "chmod \\+x"),
        ({"serve": ["x"]}, {"requirements.txt": "-r other.txt\n"}, "includes another file"),
    ],
)
def test_bad_image_directories(tmp_path: Path, manifest: object, files: dict[str, str], match: str) -> None:
    source = tmp_path / "src"
    source.mkdir()
    if manifest is not None:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        (source / "modelyard-image.json").write_text(text)
    for name, content in files.items():
        (source / name).write_text(content)
    registry = ImageRegistry(tmp_path / "images")
    with pytest.raises(ImageRegistrationError, match=match):
        registry.register("bad", source)
    assert registry.list() == []
    assert [p.name for p in (tmp_path / "images").iterdir() if not p.name.startswith(".")] == []


def test_register_refuses_missing_directory_and_bad_uri(tmp_path: Path) -> None:
    registry = ImageRegistry(tmp_path / "images")
    with pytest.raises(ImageRegistrationError, match="not a directory"):
        registry.register("img", tmp_path / "missing")
    with pytest.raises(ImageRegistrationError, match="not a valid image URI"):
        registry.register("not a uri", _image_dir(tmp_path / "src", serve_exe=True))


def test_image_spec_is_hashable() -> None:
    spec = resolve_framework_image("python")
    assert isinstance(spec, ImageSpec)
    assert len({spec, resolve_framework_image("python")}) == 1


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("python", "-m", "pkg.serve"), ("python", "-m", "pkg.serve")),
        (("python", "serve.py", "x"), ("python", "{dir}/serve.py", "x")),
        (("python3", "missing.py"), ("python3", "missing.py")),
        (("serve.py",), ("{dir}/serve.py",)),
        (("./bin/run", "-v"), ("{dir}/bin/run", "-v")),
        (("gunicorn", "app:app"), ("gunicorn", "app:app")),
        (("/usr/bin/env", "serve.py"), ("/usr/bin/env", "serve.py")),
    ],
)
def test_commands_resolve_files_of_the_image(
    tmp_path: Path, argv: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    source = _image_dir(tmp_path / "src", {"serve": list(argv)})
    (source / "serve.py").write_text("")
    (source / "bin").mkdir()
    (source / "bin" / "run").write_text("")
    spec = ImageRegistry(tmp_path / "images").register("img", source)
    assert spec.serve_command == tuple(part.replace("{dir}", str(spec.directory)) for part in expected)
