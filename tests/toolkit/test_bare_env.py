"""The toolkit in a bare venv (standard library only, no numpy), as in a minimal model environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

MODEL = """
class Model:
    def predict(self, data):
        return data

def model_fn(model_dir):
    return Model()
"""


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The python of a fresh venv without pip or any package."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    assert subprocess.run([python, "-c", "import numpy"], capture_output=True).returncode != 0
    return python


def test_defaults_without_numpy(serve, bare_python):
    client = serve({"inference.py": MODEL}, python=bare_python).client()
    header, body = client.invoke('{"instances": [1, 2]}')
    assert (header["status"], json.loads(body)) == (200, {"instances": [1, 2]})
    header, body = client.invoke("1,2\n3,x\n", content_type="text/csv", accept="text/csv")
    assert (header["status"], body) == (200, b"1.0,2.0\n3.0,x\n")
    header, body = client.invoke(b"\x93NUMPY", content_type="application/x-npy")
    assert header["status"] == 415 and b"needs numpy" in body


def test_only_the_standard_library_is_imported(serve, bare_python, tmp_path: Path):
    probe = """
    import sys

    def model_fn(model_dir):
        return None

    def transform_fn(model, body, content_type, accept):
        return ",".join(sorted(name.split(".")[0] for name in sys.modules))
    """
    client = serve({"inference.py": probe}, python=bare_python).client()
    modules = set(client.invoke("x")[1].decode().split(","))
    assert "modelyard" in modules
    assert modules <= set(sys.stdlib_module_names) | {"modelyard", "inference", "__main__"}, \
        modules - set(sys.stdlib_module_names)
