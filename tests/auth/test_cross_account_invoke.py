"""An InService endpoint answers its own account only: another account's InvokeEndpoint of the same
name is "not found", its logs are not there to read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.auth.conftest import Keys, client
from tests.hosting.models import deploy, scaler_model
from tests.support.aws_errors import code, error_of, message
from tests.support.server import ServerProcess


@pytest.mark.slow
def test_another_account_cannot_invoke_or_read_an_endpoint(auth_server: ServerProcess, make_key: Keys,
                                                          tmp_path: Path, unique: str) -> None:
    alice = make_key(f"alice-{unique}", "--account", "333333333333")
    bob = make_key(f"bob-{unique}", "--account", "444444444444")
    model = scaler_model(tmp_path / "model")
    described = deploy(client(auth_server, "sagemaker", alice), unique, f"file://{model}")
    assert described["EndpointStatus"] == "InService", described
    assert described["EndpointArn"].startswith("arn:aws:sagemaker:us-east-1:333333333333:endpoint/")
    answer = client(auth_server, "sagemaker-runtime", alice).invoke_endpoint(
        EndpointName=unique, ContentType="application/json", Body=b'{"x": [1, 2]}')
    assert json.loads(answer["Body"].read())["y"] == [2.0, 4.0]
    refused = error_of(client(auth_server, "sagemaker-runtime", bob).invoke_endpoint, EndpointName=unique,
                       ContentType="application/json", Body=b'{"x": [1, 2]}')
    assert code(refused) == "ValidationError"
    assert message(refused) == f"Endpoint {unique} of account 444444444444 not found."
    group = f"/aws/sagemaker/Endpoints/{unique}"
    assert client(auth_server, "logs", alice).describe_log_streams(logGroupName=group)["logStreams"]
    assert code(error_of(client(auth_server, "logs", bob).describe_log_streams, logGroupName=group)) == \
        "ResourceNotFoundException"
    client(auth_server, "sagemaker", alice).delete_endpoint(EndpointName=unique)
