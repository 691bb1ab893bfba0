"""Keys and accounts: accounts cannot see, invoke or read the logs of each other's resources; keys
limited to actions; key files 0600; the database alone does not reveal a secret; --auth off only on
loopback."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modelyard.auth.secrets import SecretBox, SecretUnreadable, load_server_secret
from tests.auth.conftest import Keys, client, keys_cli
from tests.support.aws_errors import code, error_of, message
from tests.support.server import ServerProcess, free_port

ROLE = "arn:aws:iam::111122223333:role/r"


def new_model(sm, name: str) -> str:  # type: ignore[no-untyped-def]
    return str(sm.create_model(ModelName=name, ExecutionRoleArn=ROLE,
                               PrimaryContainer={"Image": "image:1"})["ModelArn"])


def test_keys_create_list_delete(auth_server: ServerProcess, make_key: Keys, unique: str) -> None:
    created = make_key(f"ci-{unique}", "--account", "111122223333", "--allow", "sagemaker:Describe*")
    assert len(created["AccessKeyId"]) == 20 and created["AccessKeyId"].startswith("AKIA")
    assert len(created["SecretAccessKey"]) == 40 and created["Account"] == "111122223333"
    listed = json.loads(keys_cli(auth_server, "list").stdout)
    mine = [key for key in listed if key["AccessKeyId"] == created["AccessKeyId"]]
    assert mine and mine[0]["Allow"] == ["sagemaker:Describe*"] and "SecretAccessKey" not in mine[0]
    assert created["SecretAccessKey"] not in json.dumps(listed)
    sm = client(auth_server, "sagemaker", created)
    assert code(error_of(sm.describe_model, ModelName="none")) == "ValidationException"
    assert keys_cli(auth_server, "delete", created["AccessKeyId"]).returncode == 0
    time.sleep(2.5)
    assert code(error_of(sm.describe_model, ModelName="none")) == "UnrecognizedClientException"
    again = keys_cli(auth_server, "delete", created["AccessKeyId"])
    assert again.returncode == 1 and "no access key" in again.stderr
    bad = keys_cli(auth_server, "create", "x", "--allow", "not an action")
    assert bad.returncode == 2 and "is not an action pattern" in bad.stderr


def test_two_accounts_do_not_see_each_other(auth_server: ServerProcess, make_key: Keys, unique: str) -> None:
    alice = make_key(f"alice-{unique}", "--account", "111111111111")
    bob = make_key(f"bob-{unique}", "--account", "222222222222")
    sm_a, sm_b = client(auth_server, "sagemaker", alice), client(auth_server, "sagemaker", bob)
    arn = new_model(sm_a, unique)
    assert arn.startswith("arn:aws:sagemaker:us-east-1:111111111111:model/")
    assert [m["ModelName"] for m in sm_a.list_models(NameContains=unique)["Models"]] == [unique]
    assert sm_b.list_models(NameContains=unique)["Models"] == []
    assert "Could not find model" in message(error_of(sm_b.describe_model, ModelName=unique))
    assert new_model(sm_b, unique).startswith("arn:aws:sagemaker:us-east-1:222222222222:model/")
    sm_a.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[{
        "VariantName": "v", "ModelName": unique, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    sm_a.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    assert sm_b.list_endpoints(NameContains=unique)["Endpoints"] == []
    invoke = error_of(client(auth_server, "sagemaker-runtime", bob).invoke_endpoint, EndpointName=unique, Body=b"1")
    assert message(invoke) == f"Endpoint {unique} of account 222222222222 not found."
    own = error_of(client(auth_server, "sagemaker-runtime", alice).invoke_endpoint, EndpointName=unique, Body=b"1")
    assert "of account 111111111111" in message(own)
    logs_a, logs_b = client(auth_server, "logs", alice), client(auth_server, "logs", bob)
    group = f"/test/{unique}"
    logs_a.create_log_group(logGroupName=group)
    logs_a.create_log_stream(logGroupName=group, logStreamName="s")
    logs_a.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": int(time.time() * 1000), "message": "alice's secret"}])
    assert [g["logGroupName"] for g in logs_a.describe_log_groups(logGroupNamePrefix=group)["logGroups"]] == [group]
    assert logs_b.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
    err = error_of(logs_b.get_log_events, logGroupName=group, logStreamName="s")
    assert code(err) == "ResourceNotFoundException"
    assert code(error_of(logs_b.filter_log_events, logGroupName=group)) == "ResourceNotFoundException"
    west = client(auth_server, "logs", alice, region="eu-west-1")
    assert west.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
    sm_a.delete_endpoint(EndpointName=unique)


def test_a_key_limited_to_some_actions(auth_server: ServerProcess, make_key: Keys, unique: str) -> None:
    admin = client(auth_server, "sagemaker", auth_server.admin_key)
    new_model(admin, unique)
    limited = make_key(f"reader-{unique}", "--allow", "sagemaker:Describe*", "--allow", "sagemaker:InvokeEndpoint",
                       "--allow", "logs:*")
    sm = client(auth_server, "sagemaker", limited)
    assert sm.describe_model(ModelName=unique)["ModelName"] == unique
    err = error_of(new_model, sm, f"{unique}-2")
    assert code(err) == "AccessDeniedException" and err.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert message(err).startswith(f"User: arn:aws:iam::000000000000:user/reader-{unique} is not authorized to "
                                   "perform: sagemaker:CreateModel")
    assert code(error_of(sm.list_models)) == "AccessDeniedException"
    runtime = client(auth_server, "sagemaker-runtime", limited)
    assert "not found" in message(error_of(runtime.invoke_endpoint, EndpointName="none", Body=b"1"))
    assert "logGroups" in client(auth_server, "logs", limited).describe_log_groups()
    invoker = make_key(f"invoker-{unique}", "--allow", "sagemaker:InvokeEndpoint")
    denied = error_of(client(auth_server, "sagemaker", invoker).describe_model, ModelName=unique)
    assert code(denied) == "AccessDeniedException" and "sagemaker:DescribeModel" in message(denied)
    logs_denied = error_of(client(auth_server, "logs", invoker).describe_log_groups)
    assert code(logs_denied) == "AccessDeniedException" and "logs:DescribeLogGroups" in message(logs_denied)
    watcher = make_key(f"watcher-{unique}", "--allow", "cloudwatch:Get*")
    cloudwatch = client(auth_server, "cloudwatch", watcher)
    assert cloudwatch.get_metric_data(MetricDataQueries=[{"Id": "m", "MetricStat": {
        "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations"}, "Period": 60, "Stat": "Sum"}}],
        StartTime=0, EndTime=60)["MetricDataResults"][0]["Id"] == "m"
    watch_denied = error_of(cloudwatch.list_metrics)
    assert "cloudwatch:ListMetrics" in message(watch_denied), "CloudWatch's actions are cloudwatch:*, not monitoring:*"
    scaler = client(auth_server, "application-autoscaling",
                    make_key(f"scaler-{unique}", "--allow", "application-autoscaling:Describe*"))
    assert scaler.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    scale_denied = error_of(scaler.register_scalable_target, ServiceNamespace="sagemaker", MinCapacity=1,
                            MaxCapacity=2, ResourceId="endpoint/e/variant/v",
                            ScalableDimension="sagemaker:variant:DesiredInstanceCount")
    assert "application-autoscaling:RegisterScalableTarget" in message(scale_denied)


def test_key_files_are_private(auth_server: ServerProcess) -> None:
    for name in ("admin-key.json", "server-secret"):
        mode = stat.S_IMODE(os.stat(auth_server.data_dir / name).st_mode)
        assert mode == 0o600, f"{name} has mode {oct(mode)}"


def test_a_copy_of_the_database_alone_reveals_no_secret(auth_server: ServerProcess, make_key: Keys,
                                                        tmp_path: Path, unique: str) -> None:
    made = make_key(f"copy-{unique}")
    copy = tmp_path / "copy.db"
    shutil.copy(auth_server.data_dir / "modelyard.db", copy)
    for suffix in ("-wal", "-shm"):
        if (auth_server.data_dir / f"modelyard.db{suffix}").exists():
            shutil.copy(auth_server.data_dir / f"modelyard.db{suffix}", f"{copy}{suffix}")
    with sqlite3.connect(copy) as db:
        rows = db.execute("SELECT access_key_id, secret FROM access_keys").fetchall()
    everything = b"".join(path.read_bytes() for path in tmp_path.glob("copy.db*"))
    assert made["AccessKeyId"] in {row[0] for row in rows}
    for secret in (made["SecretAccessKey"], auth_server.admin_key["SecretAccessKey"]):
        assert secret.encode() not in everything
        assert all(secret not in row[1] for row in rows)
    other = tmp_path / "other-data"
    other.mkdir()
    for path in tmp_path.glob("copy.db*"):
        shutil.copy(path, other / path.name.replace("copy.db", "modelyard.db"))
    box = SecretBox(load_server_secret(other))
    for access_key_id, sealed in rows:
        with pytest.raises(SecretUnreadable):
            box.open(access_key_id, sealed)
    listed = subprocess.run([sys.executable, "-m", "modelyard", "keys", "list", "--data-dir", str(other)],
                            capture_output=True, text=True, timeout=120)
    assert made["AccessKeyId"] in listed.stdout and made["SecretAccessKey"] not in listed.stdout


def test_auth_off_is_refused_on_a_public_address(tmp_path: Path) -> None:
    for args, env in ((["--host", "0.0.0.0", "--auth", "off"], {}),
                      (["--host", "0.0.0.0"], {"MODELYARD_AUTH": "off"})):
        done = subprocess.run([sys.executable, "-m", "modelyard", "server", "--port", str(free_port()),
                               "--data-dir", str(tmp_path), *args], capture_output=True, text=True, timeout=60,
                              env={**os.environ, **env})
        assert done.returncode == 2
        assert "--auth off accepts any credentials, so it is refused on --host 0.0.0.0" in done.stderr
