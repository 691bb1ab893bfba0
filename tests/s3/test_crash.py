"""A kill -9 of the server in the middle of an upload leaves no object and no temporary file after restart."""

from __future__ import annotations

import http.client
import os
import signal
import time
import uuid
from pathlib import Path

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.s3.conftest import error_of, s3_client
from tests.support.server import start_server

MIB = 1024 * 1024


def test_kill_during_upload_leaves_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    try:
        s3 = s3_client(server)
        bucket = f"crash-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="kept", Body=b"before the crash")
        port = int(server.url.rsplit(":", 1)[1])
        total = 64 * MIB
        key = server.admin_key
        body = os.urandom(total)
        request = AWSRequest(method="PUT", url=f"{server.url}/{bucket}/partial", data=body,
                             headers={"Content-Length": str(total)})
        S3SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "s3", "us-east-1").add_auth(request)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.putrequest("PUT", f"/{bucket}/partial", skip_accept_encoding=True)
        for name, value in request.headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        connection.send(body[: 16 * MIB])
        temporary = data_dir / "s3" / "tmp"
        deadline = time.monotonic() + 20
        while not any(temporary.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(temporary.iterdir()), "the upload never reached a temporary file"
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        connection.close()
    finally:
        server.stop()
    restarted = start_server(data_dir)
    try:
        s3 = s3_client(restarted)
        assert error_of(lambda: s3.head_object(Bucket=bucket, Key="partial"))["Code"] == "404"
        assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["kept"]
        assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"before the crash"
        assert list((data_dir / "s3" / "tmp").iterdir()) == []
    finally:
        restarted.stop()
