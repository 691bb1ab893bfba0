"""``sagemaker.get_execution_role()`` after ``eval "$(modelyard env --role ARN)"``, unchanged SDK code.

The SDK reads the role from /opt/ml/metadata/resource-metadata.json; the script runs in a private mount
namespace (bubblewrap, a tmpfs on /opt) so the real file is written without touching this machine's /opt.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import clean_environment
from tests.sdk.conftest import BUCKET, SdkStack, check

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap for a private /opt")
ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-modelyard"

SCRIPT = '''
import boto3, sagemaker
print("ROLE", sagemaker.get_execution_role())
identity = boto3.client("sts").get_caller_identity()
print("ARN", identity["Arn"])
print("GETROLE", boto3.client("iam").get_role(RoleName="modelyard")["Role"]["Arn"])
'''


def run_private_opt(stack: SdkStack, cwd: Path, script: str, *, read_only: bool = False,
                    role: str = ROLE) -> subprocess.CompletedProcess[str]:
    """``eval "$(modelyard env --role ...)"`` then the script, with a private (optionally read-only) /opt."""
    (cwd / "user_script.py").write_text(script)
    env_command = shlex.join([sys.executable, "-m", "modelyard", "env", "--endpoint-url", stack.server.url,
                              "--bucket", BUCKET, "--data-dir", str(stack.server.data_dir), "--role", role])
    shell = f'eval "$({env_command})" && exec {shlex.quote(sys.executable)} user_script.py'
    private = ["bwrap", "--dev-bind", "/", "/", "--tmpfs", "/opt", *(["--remount-ro", "/opt"] if read_only else []),
               "--chdir", str(cwd), "--", "bash", "-c", shell]
    return subprocess.run(private, cwd=cwd, env=clean_environment(PYTHONUNBUFFERED="1"), capture_output=True,
                          text=True, timeout=120)


def test_get_execution_role_after_env_role(sdk_stack: SdkStack, tmp_path: Path) -> None:
    done = run_private_opt(sdk_stack, tmp_path, SCRIPT)
    output = check(done)
    assert f"ROLE {ROLE}" in output
    assert f"get_execution_role() now returns {ROLE}" in done.stderr
    account = output.split("ARN arn:aws:sts::", 1)[1][:12]
    assert f"ARN arn:aws:sts::{account}:assumed-role/modelyard/" in output  # boto3 honours AWS_ENDPOINT_URL
    assert f"GETROLE arn:aws:iam::{account}:role/modelyard" in output


def test_env_role_prints_the_commands_when_it_may_not_write(sdk_stack: SdkStack, tmp_path: Path) -> None:
    done = run_private_opt(sdk_stack, tmp_path, "print('ran')\n", read_only=True)
    assert check(done).strip() == "ran"
    assert "cannot write /opt/ml/metadata/resource-metadata.json (Read-only file system)" in done.stderr
    assert "sudo mkdir -p /opt/ml/metadata && echo '{\"ExecutionRoleArn\": " in done.stderr
    assert f'"{ROLE}"' in done.stderr and "| sudo tee /opt/ml/metadata/resource-metadata.json" in done.stderr


def test_env_refuses_a_role_that_is_not_an_arn(sdk_stack: SdkStack, tmp_path: Path) -> None:
    done = run_private_opt(sdk_stack, tmp_path, "print('ran')\n", role="my-role")
    assert "Invalid value for --role: 'my-role' is not an IAM role ARN" in done.stderr
