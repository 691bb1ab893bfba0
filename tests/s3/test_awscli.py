"""The awscli (v1) against modelyard's S3: ``aws s3 mb/cp/ls/sync/rm/rb`` and ``aws s3api``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.cli.conftest import clean_environment
from tests.support.server import ServerProcess

AWS = str(Path(sys.executable).with_name("aws"))


def aws(server: ServerProcess, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``aws ARGS`` with the server as its endpoint and its admin key."""
    env = clean_environment(AWS_ENDPOINT_URL=server.url, AWS_DEFAULT_REGION="us-east-1", **server.credential_env)
    return subprocess.run([AWS, *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    """stdout of a command that must succeed."""
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_aws_s3_commands(any_server: ServerProcess, tmp_path: Path) -> None:
    bucket = f"cli-{uuid.uuid4().hex[:12]}"
    ok(aws(any_server, "s3", "mb", f"s3://{bucket}"))
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("alpha")
    (tree / "sub" / "b.bin").write_bytes(os.urandom(9 * 1024 * 1024))
    ok(aws(any_server, "s3", "cp", str(tree / "a.txt"), f"s3://{bucket}/single/a.txt"))
    ok(aws(any_server, "s3", "sync", str(tree), f"s3://{bucket}/tree/"))
    listing = ok(aws(any_server, "s3", "ls", "--recursive", f"s3://{bucket}/"))
    assert {line.split()[-1] for line in listing.splitlines()} == {"single/a.txt", "tree/a.txt", "tree/sub/b.bin"}
    top = ok(aws(any_server, "s3", "ls", f"s3://{bucket}/"))
    assert "PRE single/" in top and "PRE tree/" in top
    back = tmp_path / "back"
    ok(aws(any_server, "s3", "sync", f"s3://{bucket}/tree/", str(back)))
    assert (back / "sub" / "b.bin").read_bytes() == (tree / "sub" / "b.bin").read_bytes()
    assert "upload" not in ok(aws(any_server, "s3", "sync", str(tree), f"s3://{bucket}/tree/"))
    refused = aws(any_server, "s3", "rb", f"s3://{bucket}")
    assert refused.returncode != 0 and "BucketNotEmpty" in refused.stderr
    ok(aws(any_server, "s3", "rm", "--recursive", f"s3://{bucket}/"))
    ok(aws(any_server, "s3", "rb", f"s3://{bucket}"))
    assert bucket not in ok(aws(any_server, "s3", "ls"))


def test_aws_s3api(any_server: ServerProcess, tmp_path: Path) -> None:
    bucket = f"api-{uuid.uuid4().hex[:12]}"
    ok(aws(any_server, "s3api", "create-bucket", "--bucket", bucket))
    source = tmp_path / "body.json"
    source.write_text('{"a": 1}')
    ok(aws(any_server, "s3api", "put-object", "--bucket", bucket, "--key", "x.json", "--body", str(source),
           "--content-type", "application/json", "--metadata", "owner=me"))
    head = json.loads(ok(aws(any_server, "s3api", "head-object", "--bucket", bucket, "--key", "x.json")))
    assert head["ContentType"] == "application/json" and head["Metadata"] == {"owner": "me"}
    listed = json.loads(ok(aws(any_server, "s3api", "list-objects-v2", "--bucket", bucket)))
    assert [item["Key"] for item in listed["Contents"]] == ["x.json"]
    missing = aws(any_server, "s3api", "get-object", "--bucket", bucket, "--key", "nope", str(tmp_path / "o"))
    assert missing.returncode != 0 and "NoSuchKey" in missing.stderr
