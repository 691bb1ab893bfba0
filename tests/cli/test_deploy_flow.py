"""The CLI end to end against a real server: deploy, invoke, list, logs, delete, and what failures print."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.cli.conftest import EXAMPLES, Cli

RECOMMENDER = EXAMPLES / "recommender"


def test_deploy_invoke_logs_delete(cli: Cli, unique: str) -> None:
    deployed = cli("deploy", str(RECOMMENDER / "model"), "--name", unique)
    assert deployed.code == 0, deployed.output
    assert f"endpoint {unique} is InService" in deployed.stderr
    assert "recommender ready: 30 users, 60 movies" in deployed.stderr
    assert "modelyard: preparing model" in deployed.stderr
    assert f"modelyard invoke {unique}" in deployed.stdout
    assert 'runtime.invoke_endpoint(EndpointName="' + unique in deployed.stdout

    answer = cli("invoke", unique, "--body", f"@{RECOMMENDER / 'request.json'}")
    assert answer.code == 0, answer.output
    body = json.loads(answer.stdout)
    assert body["user_id"] == "114521" and len(body["recommendations"]) == 3
    scores = [next(iter(item.values())) for item in body["recommendations"]]
    assert scores == sorted(scores, reverse=True)

    inline = cli("invoke", unique, "--body", '{"user_id": "114521", "k": 1}', "--json")
    assert inline.code == 0, inline.output
    assert json.loads(json.loads(inline.stdout)["Body"])["recommendations"][0] == body["recommendations"][0]
    assert json.loads(inline.stdout)["InvokedProductionVariant"] == "AllTraffic"

    _watch_counts_the_calls(cli, unique, calls=2)

    listed = json.loads(cli("endpoints", "--json").stdout)
    assert {"EndpointName": unique, "EndpointStatus": "InService"}.items() <= next(
        e for e in listed if e["EndpointName"] == unique).items()
    assert unique in cli("models").stdout

    logs = cli("logs", unique)
    assert logs.code == 0, logs.output
    assert "recommender ready" in logs.stdout and "AllTraffic/deployment" in logs.stdout
    events = [json.loads(line) for line in cli("logs", unique, "--json", "--tail", "2").stdout.splitlines()]
    assert len(events) == 2 and all({"timestamp", "stream", "message"} <= set(e) for e in events)

    deleted = cli("delete", unique)
    assert deleted.code == 0, deleted.output
    for kind in ("endpoint", "endpoint config", "model"):
        assert f"deleted {kind} {unique}" in deleted.stderr
    assert all(e["EndpointName"] != unique for e in json.loads(cli("endpoints", "--json").stdout))
    gone = cli("invoke", unique, "--body", "{}")
    assert gone.code == 1 and "ValidationError" in gone.stderr
    again = cli("delete", unique)
    assert again.code == 1 and f"nothing named '{unique}' to delete" in again.stderr


def _watch_counts_the_calls(cli: Cli, name: str, calls: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        view = json.loads(cli("watch", name, "--json").stdout)
        counted = sum(view["variants"][0]["per_minute"]["calls"])
        if counted >= calls or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert view["status"] == "InService" and view["deployment"] is None, view
    variant = view["variants"][0]
    assert variant["name"] == "AllTraffic" and variant["current_instances"] == 1, view
    assert counted == calls and len(variant["per_minute"]["calls"]) == 15, view
    assert max(variant["per_minute"]["p99_ms"]) > 0, view
    frame = cli("watch", name, "--once", "--minutes", "5")
    assert frame.code == 0, frame.output
    assert "AllTraffic" in frame.stdout and "InService" in frame.stdout and "calls over 5 min" in frame.stdout
    unknown = cli("watch", name + "-missing", "--once")
    assert unknown.code == 1 and f"no endpoint named '{name}-missing'" in unknown.stderr, unknown.output


def test_broken_model_fails_with_reason_and_log_lines(cli: Cli, tmp_path: Path, unique: str) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text(
        'def model_fn(model_dir):\n    raise FileNotFoundError("weights.bin is missing from the artifact")\n')
    result = cli("deploy", str(tmp_path), "--name", unique, "--json")
    assert result.code == 1, result.output
    assert f"endpoint {unique} is Failed: model_fn failed: FileNotFoundError: weights.bin is missing" in result.stderr
    assert "last log lines:" in result.stderr
    assert f"modelyard delete {unique}" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["EndpointStatus"] == "Failed" and "weights.bin is missing" in summary["FailureReason"]
    assert "Traceback" in cli("logs", unique).stdout
    refused = cli("deploy", str(tmp_path), "--name", unique)
    assert refused.code == 1 and f"an endpoint named '{unique}' already exists" in refused.stderr
    assert cli("delete", unique).code == 0


def test_model_error_at_invoke_exits_1_with_the_models_message(cli: Cli, unique: str) -> None:
    assert cli("deploy", str(RECOMMENDER / "model"), "--name", unique).code == 0
    try:
        invalid = cli("invoke", unique, "--body", '{"user_id": "114521", "k": 0}')
        assert invalid.code == 1
        assert "the model failed" in invalid.stderr and "greater than or equal to 1" in invalid.stderr
        assert f"modelyard logs {unique}" in invalid.stderr
        wrong_type = cli("invoke", unique, "--body", "1,2", "--content-type", "text/csv")
        assert wrong_type.code == 1 and "Invalid content-type: text/csv" in wrong_type.stderr
    finally:
        assert cli("delete", unique).code == 0


def test_flat_model_dir_and_environment_options(cli: Cli, tmp_path: Path, unique: str) -> None:
    (tmp_path / "inference.py").write_text(
        "import os\n\ndef model_fn(model_dir):\n    return os.environ['GREETING']\n\n"
        "def transform_fn(model, body, content_type, accept):\n    return model + ' ' + body.decode(), 'text/plain'\n")
    (tmp_path / "sample.json").write_text('"ignored"')
    deployed = cli("deploy", str(tmp_path), "--name", unique, "--env", "GREETING=hello", "--instances", "2")
    try:
        assert deployed.code == 0, deployed.output
        assert f"--body @{tmp_path / 'sample.json'}" in deployed.stdout or "sample.json" in deployed.stdout
        answer = cli("invoke", unique, "--body", "world", "--content-type", "text/plain")
        assert answer.stdout == "hello world"
    finally:
        assert cli("delete", unique).code == 0


def test_usage_errors(cli: Cli, tmp_path: Path, unique: str) -> None:
    missing = cli("deploy", str(tmp_path / "nope"), "--name", unique)
    assert missing.code == 1 and "is not a directory" in missing.stderr
    bad_env = cli("deploy", str(tmp_path), "--name", unique, "--env", "NOEQUALS")
    assert bad_env.code == 2 and "is not KEY=VALUE" in bad_env.stderr
    no_file = cli("invoke", unique, "--body", f"@{tmp_path / 'absent.json'}")
    assert no_file.code == 1 and "cannot read the request body" in no_file.stderr
    unknown = cli("logs", unique)
    assert unknown.code == 1 and f"no logs found for '{unique}'" in unknown.stderr
    for command in ("deploy", "invoke", "endpoints", "models", "packages", "jobs", "approve", "reject", "logs",
                    "delete", "env", "images", "server"):
        shown = cli(command, "--help")
        assert shown.code == 0 and "Usage: python -m modelyard" in shown.stdout, command


def test_unreachable_server_is_explained(cli: Cli) -> None:
    result = cli("endpoints", "--endpoint-url", "http://127.0.0.1:9")
    assert result.code == 2
    assert "cannot reach the server at http://127.0.0.1:9" in result.stderr and "modelyard server" in result.stderr
