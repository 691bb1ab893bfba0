"""CLI registry commands, job listing, images and ``env`` against a real server."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

from tests.cli.conftest import EXAMPLES, Cli, clean_environment, run_cli


def test_deploy_from_a_registered_package_then_reject_and_approve(cli: Cli, unique: str) -> None:
    group = f"grp-{unique}"
    deployed = cli("deploy", str(EXAMPLES / "registry-flow" / "model"), "--name", unique, "--register", group,
                   "--json")
    assert deployed.code == 0, deployed.output
    summary = json.loads(deployed.stdout)
    arn = summary["ModelPackageArn"]
    assert arn.endswith(f":model-package/{group}/1") and summary["EndpointStatus"] == "InService"
    assert f"registered and approved {arn}" in deployed.stderr
    try:
        answer = cli("invoke", unique, "--body", '{"instances": [[1.0, 2.0]]}')
        assert json.loads(answer.stdout) == {"predictions": [0.5], "version": "v1"}

        listed = json.loads(cli("packages", "--group", group, "--json").stdout)
        assert [(p["ModelPackageArn"], p["ModelApprovalStatus"]) for p in listed] == [(arn, "Approved")]
        assert f"{group}/1" in cli("packages").stdout

        rejected = cli("reject", f"{group}/1", "--description", "drift", "--json")
        assert rejected.code == 0, rejected.output
        assert json.loads(rejected.stdout) == {"ModelPackageArn": arn, "ModelApprovalStatus": "Rejected"}
        assert json.loads(cli("packages", "--group", group, "--status", "Rejected", "--json").stdout)[0][
            "ModelPackageArn"] == arn
        assert cli("approve", arn).code == 0
        assert json.loads(cli("packages", "--group", group, "--json").stdout)[0]["ModelApprovalStatus"] == "Approved"
    finally:
        assert cli("delete", unique).code == 0

    bad = cli("approve", "not-a-reference")
    assert bad.code == 1 and "neither a model package ARN nor GROUP/VERSION" in bad.stderr
    missing = cli("approve", f"{group}/99")
    assert missing.code == 1 and "modelyard:" in missing.stderr


def test_jobs_listing(cli: Cli) -> None:
    listed = cli("jobs", "--json")
    assert listed.code == 0, listed.output
    assert isinstance(json.loads(listed.stdout), list)
    assert cli("jobs", "--kind", "training").code == 0


def test_images_register_list_unregister(cli: Cli, tmp_path: Path) -> None:
    image = tmp_path / "image"
    image.mkdir()
    (image / "modelyard-image.json").write_text(json.dumps({"serve": ["python", "serve.py"]}))
    (image / "serve.py").write_text("print('hi')\n")
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/cli-test:1"
    registered = cli("images", "register", uri, str(image))
    assert registered.code == 0, registered.output
    listed = json.loads(cli("images", "list", "--json").stdout)
    assert [row["uri"] for row in listed] == [uri] and "serve.py" in listed[0]["serve"]
    assert cli("images", "unregister", uri).code == 0
    assert json.loads(cli("images", "list", "--json").stdout) == []
    again = cli("images", "unregister", uri)
    assert again.code == 1 and "not registered" in again.stderr
    broken = cli("images", "register", uri, str(tmp_path / "missing"))
    assert broken.code == 1 and "is not a directory" in broken.stderr


def test_env_prints_exports_and_writes_the_sdk_config(tmp_path: Path) -> None:
    env = clean_environment(MODELYARD_DATA_DIR=str(tmp_path))
    result = run_cli(["env", "--endpoint-url", "http://127.0.0.1:1234", "--bucket", "ml-bucket",
                      "--s3-endpoint", "http://127.0.0.1:9000"], env)
    assert result.code == 0, result.output
    exports = dict(shlex.split(line)[1].split("=", 1) for line in result.stdout.splitlines())
    config = tmp_path / "sdk" / "config-ml-bucket.yaml"
    assert exports == {"AWS_ENDPOINT_URL": "http://127.0.0.1:1234", "AWS_DEFAULT_REGION": "us-east-1",
                       "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config), "AWS_ACCESS_KEY_ID": "modelyard",
                       "AWS_SECRET_ACCESS_KEY": "modelyard", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"}
    shell = subprocess.run(["bash", "-c", f'eval "$({shlex.join(["python", "-m", "modelyard", "env"])})" && '
                            'echo "$AWS_ENDPOINT_URL $AWS_ACCESS_KEY_ID"'], env={**env, "AWS_ACCESS_KEY_ID": "mine",
                            "AWS_SECRET_ACCESS_KEY": "x", "PATH": f"{Path(__import__('sys').executable).parent}:"
                            f"{env['PATH']}"}, capture_output=True, text=True, cwd=tmp_path)
    assert shell.stdout.split() == ["http://127.0.0.1:8080", "mine"], shell.stderr
    assert "AWS_ENDPOINT_URL_S3" not in shell.stdout + shell.stderr
    refused = run_cli(["env", "--bucket", "B1"], env)
    assert refused.code == 2 and "is not an S3 bucket name" in refused.stderr


def test_env_config_is_valid_for_the_sagemaker_sdk(tmp_path: Path) -> None:
    import yaml
    from sagemaker.config.config import validate_sagemaker_config

    env = clean_environment(MODELYARD_DATA_DIR=str(tmp_path))
    assert run_cli(["env", "--bucket", "ml-b1", "--key-prefix", "runs"], env).code == 0
    config = yaml.safe_load((tmp_path / "sdk" / "config-ml-b1.yaml").read_text())
    validate_sagemaker_config(config)
    modules = config["SageMaker"]["PythonSDK"]["Modules"]
    assert modules == {"TelemetryOptOut": True,
                       "Session": {"DefaultS3Bucket": "ml-b1", "DefaultS3ObjectKeyPrefix": "runs"}}
