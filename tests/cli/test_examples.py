"""The examples run as their READMEs say: the scikit-learn model through the CLI, the registry flow with boto3."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import EXAMPLES, REPO, Cli, clean_environment
from tests.support.server import ServerProcess

SKLEARN = EXAMPLES / "sklearn-model"


def _uv() -> str:
    return str(Path(sys.executable).parent / "uv")


@pytest.mark.slow
def test_sklearn_example_trains_deploys_and_answers_json_and_csv(cli: Cli, unique: str) -> None:
    requirements = str(SKLEARN / "model" / "code" / "requirements.txt")
    trained = subprocess.run([_uv(), "run", "-q", "--no-project", "--with-requirements", requirements, "python",
                              str(SKLEARN / "train.py")],
                             capture_output=True, text=True, timeout=300, cwd=REPO)
    assert trained.returncode == 0, trained.stderr
    assert (SKLEARN / "model" / "model.joblib").is_file()
    deployed = cli("deploy", str(SKLEARN / "model"), "--name", unique)
    try:
        assert deployed.code == 0, deployed.output
        assert "loaded Pipeline with classes ['setosa', 'versicolor', 'virginica']" in deployed.stderr
        assert "--body @examples/sklearn-model/sample.json" in deployed.stdout
        as_json = json.loads(cli("invoke", unique, "--body", f"@{SKLEARN / 'sample.json'}").stdout)
        assert as_json["predictions"] == ["setosa", "virginica"]
        assert all(abs(sum(p) - 1) < 1e-3 for p in as_json["probabilities"])
        as_csv = json.loads(cli("invoke", unique, "--body", f"@{SKLEARN / 'sample.csv'}").stdout)
        assert as_csv["predictions"][0] == "setosa" and len(as_csv["predictions"]) == 2
    finally:
        assert cli("delete", unique).code == 0


def test_registry_flow_script_with_modelyard_env(cli_server: ServerProcess, tmp_path: Path, unique: str) -> None:
    env_command = shlex.join([sys.executable, "-m", "modelyard", "env", "--endpoint-url", cli_server.url,
                              "--data-dir", str(cli_server.data_dir)])
    script = shlex.join([sys.executable, str(EXAMPLES / "registry-flow" / "registry_flow.py"), "--group",
                         f"flow-{unique}", "--artifacts", str(tmp_path / "artifacts")])
    done = subprocess.run(["bash", "-c", f'eval "$({env_command})" && {script}'], env=clean_environment(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].endswith(f":model-package/flow-{unique}/1: PendingManualApproval")
    assert lines[3] == "4. approved: Approved"
    assert "InService" in lines[4]
    assert json.loads(lines[5].split(": ", 1)[1]) == {"predictions": [0.5, 5.5], "version": "v1"}
    assert lines[6].startswith("7. deleted endpoint")


def test_streaming_tokens_script_with_modelyard_env(cli_server: ServerProcess, tmp_path: Path, unique: str) -> None:
    env_command = shlex.join([sys.executable, "-m", "modelyard", "env", "--endpoint-url", cli_server.url,
                              "--data-dir", str(cli_server.data_dir)])
    script = shlex.join([sys.executable, str(EXAMPLES / "streaming-tokens" / "stream_tokens.py"), "--name",
                         f"tokens-{unique}", "--artifacts", str(tmp_path)])
    done = subprocess.run(["bash", "-c", f'eval "$({env_command})" && {script}'], env=clean_environment(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if not line.startswith("sagemaker.config")]
    assert lines[0].endswith("InService")
    assert lines[1].strip() == "the yard keeps every model in its own sandbox and streams each token as it comes"
    first, last = _times(lines[2])
    assert lines[2].startswith("2. 16 tokens") and last - first > 1.0, lines[2]
    assert lines[3] == "3. with the sagemaker SDK: " + lines[1].strip()
    assert lines[4].startswith("4. deleted endpoint")


def _times(line: str) -> tuple[float, float]:
    first, rest = line.split("first after ")[1].split(" s, all after ")
    return float(first), float(rest.split(" s")[0])
