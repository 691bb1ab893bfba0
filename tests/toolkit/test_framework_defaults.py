"""The framework containers' own default hooks (``MODELYARD_FRAMEWORK``), through a real toolkit process.

scikit-learn casts JSON/CSV input to float32; PyTorch loads ``model.pt`` (TorchScript) with no inference
program at all and feeds tensors. The PyTorch tests build a venv from a CPU wheel of torch found in
``/opt/wheels`` (PyPI's Linux torch pulls gigabytes of CUDA libraries) and are skipped without one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.toolkit.support import start

DTYPE_ECHO = """
class Echo:
    def predict(self, data):
        return {"dtype": str(data.dtype), "sum": float(data.sum())}

def model_fn(model_dir):
    return Echo()
"""


def test_sklearn_default_input_is_float32(serve) -> None:  # type: ignore[no-untyped-def]
    toolkit = serve({"inference.py": DTYPE_ECHO}, env={"MODELYARD_FRAMEWORK": "sklearn"})
    client = toolkit.client()
    assert json.loads(client.invoke("[[1, 2], [3, 4]]")[1]) == {"dtype": "float32", "sum": 10.0}
    assert json.loads(client.invoke("1,2\n3,4", content_type="text/csv")[1]) == {"dtype": "float32", "sum": 10.0}


def test_generic_image_keeps_the_parsed_dtype(serve) -> None:  # type: ignore[no-untyped-def]
    client = serve({"inference.py": DTYPE_ECHO}).client()
    assert json.loads(client.invoke("[[1, 2], [3, 4]]")[1])["dtype"] == "int64"


def test_a_missing_model_fn_is_still_an_error_for_sklearn(serve) -> None:  # type: ignore[no-untyped-def]
    toolkit = serve({"inference.py": "x = 1\n"}, env={"MODELYARD_FRAMEWORK": "sklearn"}, ready=False)
    assert toolkit.wait_exit() == 2
    assert "defines no model_fn" in toolkit.stderr()


def _torch_wheel() -> Path | None:
    found = sorted(Path("/opt/wheels").glob("torch-*+cpu-cp311-*.whl")) if Path("/opt/wheels").is_dir() else []
    return found[-1] if found else None


@pytest.fixture(scope="module")
def torch_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A venv with a CPU build of torch (and numpy)."""
    wheel, uv = _torch_wheel(), shutil.which("uv") or os.path.expanduser("~/.local/bin/uv")
    if wheel is None or not os.path.exists(uv):
        pytest.skip("no CPU wheel of torch in /opt/wheels (PyPI's Linux torch brings gigabytes of CUDA libraries)")
    venv = tmp_path_factory.mktemp("torch") / "venv"
    subprocess.run([uv, "venv", "-q", str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(wheel), "numpy"],
                   check=True)
    yield str(venv / "bin" / "python")


def _save_torchscript(python: str, model_dir: Path, name: str) -> None:
    code = f"""
import torch
class Doubler(torch.nn.Module):
    def forward(self, x):
        return x * 2 + (1.0 if self.training else 0.0)
model = Doubler()
torch.jit.save(torch.jit.script(model), {str(model_dir / name)!r})
"""
    model_dir.mkdir(parents=True, exist_ok=True)
    script = model_dir.parent / "save_model.py"  # TorchScript compiles from source: it must be a file
    script.write_text(code)
    subprocess.run([python, str(script)], check=True)


def test_pytorch_serves_model_pt_without_an_inference_program(torch_python: str, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    _save_torchscript(torch_python, model_dir, "model.pth")
    toolkit = start(model_dir, env={"MODELYARD_FRAMEWORK": "pytorch"}, python=torch_python)
    try:
        client = toolkit.client()
        header, body = client.invoke("[[1, 2], [3, 4]]")
        assert header["status"] == 200 and header["content_type"] == "application/json"
        assert json.loads(body) == [[2.0, 4.0], [6.0, 8.0]]  # eval mode: no +1
        header, body = client.invoke("1,2\n3,4", content_type="text/csv", accept="application/x-foo, text/csv")
        assert header["content_type"] == "text/csv"
        assert body.decode().split() == ["2.0,4.0", "6.0,8.0"]
    finally:
        toolkit.close()


def test_pytorch_without_a_model_file_fails_to_load(torch_python: str, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").write_bytes(b"\0")
    toolkit = start(model_dir, env={"MODELYARD_FRAMEWORK": "pytorch"}, python=torch_python, ready=False)
    try:
        assert toolkit.wait_exit() == 2
        assert "Exactly one .pth or .pt file is required for PyTorch models: []" in toolkit.stderr()
    finally:
        toolkit.close()
