"""Hostile requests to the services spoken over the query protocol (sts, iam), on SQLite and PostgreSQL:
oversized and repeated form fields, list indexes past any limit, broken percent-encoding, odd actions and
versions, odd regions in the credential scope, and shape-typed parameters serialized by botocore. No
answer is a 5xx, every refusal is a 4xx ``ErrorResponse`` in the query shape (a form that names no
operation or gives a bad role name is always refused), and the store is unchanged.

Every request is signed with the server's admin key, so it reaches the form decoder and the operation;
an answer that an unsigned request would get fails the test."""

from __future__ import annotations

import http.client
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelyard.services.catalog import load_services
from modelyard.services.dispatch import implemented
from modelyard.wire.spec import service_model
from tests.support.server import ServerProcess, signed_headers
from tests.support.snapshot import store_snapshot
from tests.wire.test_fuzz import value_for

load_services()

QUERY_SERVICES = ("sts", "iam")
OPERATIONS = [(service, name) for service in QUERY_SERVICES for name in sorted(implemented(service))]
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
AUTH_REFUSALS = (b"MissingAuthenticationToken", b"IncompleteSignature", b"InvalidSignatureException",
                 b"UnrecognizedClientException", b"SignatureDoesNotMatch", b"InvalidClientTokenId")


def _version(service: str) -> str:
    return str(service_model(service).metadata["apiVersion"])


def _hostile_forms(service: str, action: str) -> dict[str, bytes]:
    head = f"Action={action}&Version={_version(service)}"
    return {
        "a value of 1 MB": f"{head}&RoleName={'a' * 1_000_000}".encode(),
        "200,000 fields": (head + "&x=1" * 200_000).encode(),
        "a name of 100,000 characters": f"{head}&{'N' * 100_000}=1".encode(),
        "a list index of 30 digits": f"{head}&Tags.member.{'9' * 30}.Key=k&PolicyArns.member.1.arn=x".encode(),
        "member paths 2,000 deep": (f"{head}&" + ".member.1" * 2_000 + "=1").encode(),
        "an integer of 5,000 digits": f"{head}&DurationSeconds={'9' * 5_000}&MaxItems={'9' * 5_000}".encode(),
        "broken percent-encoding": f"{head}&RoleName=%ff%fe%00%&RoleName2=%zz".encode(),
        "raw bytes that are not UTF-8": head.encode() + b"&RoleName=\xff\xfe\xc0\xaf",
        "NUL in the role name": f"{head}&RoleName=a%00b".encode(),
        "an unknown action of 5,000 characters": f"Action={'A' * 5_000}&Version={_version(service)}".encode(),
        "an action that is not ASCII": f"Action={action}%C3%A9&Version={_version(service)}".encode(),
        "no action": f"Version={_version(service)}&RoleName=modelyard".encode(),
        "an odd version": f"Action={action}&Version={'9' * 300}".encode(),
        "the action twice, differing": f"{head}&Action=DeleteRole&RoleName=modelyard".encode(),
        "nothing but separators": b"&" * 100_000,
        "a JSON body": b'{"Action": "' + action.encode() + b'", "A": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
    }


ODD_REGIONS = ["x" * 40, "US-EAST-1", "../../etc", "us east 1", "\u00fcs-east-1", "1", "-", "us-east-1\t"]


def _post(server: ServerProcess, service: str, body: bytes, region: str = "us-east-1") -> tuple[int, bytes]:
    """POST ``body`` to ``/`` signed with the admin key for ``service`` in ``region``; in us-east-1, a
    request that authentication refused fails the test (it would not have reached the decoder)."""
    host, port = server.url.removeprefix("http://").split(":")
    headers = signed_headers(server, "POST", f"{server.url}/", body, dict(FORM), service=service, region=region)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        response = conn.getresponse()
        status, answer = response.status, response.read()
    finally:
        conn.close()
    if region == "us-east-1":
        assert not any(refusal in answer[:300] for refusal in AUTH_REFUSALS), (service, answer[:300])
    return status, answer


def _assert_query_4xx(status: int, body: bytes, what: object) -> None:
    """A 4xx whose body is the query protocol's ``ErrorResponse`` with a code and a message."""
    assert 400 <= status < 500, (what, status, body[:300])
    root = ET.fromstring(body)
    tag = root.tag.rsplit("}", 1)[-1]
    assert tag == "ErrorResponse", (what, body[:300])
    code = root.find(".//{*}Error/{*}Code")
    message = root.find(".//{*}Error/{*}Message")
    assert code is not None and code.text and message is not None and message.text, (what, body[:300])


@pytest.fixture()
def unchanged(any_server: ServerProcess) -> Iterator[ServerProcess]:
    before = store_snapshot(any_server)
    yield any_server
    assert store_snapshot(any_server) == before


NO_ACTION = {"an unknown action of 5,000 characters", "an action that is not ASCII", "no action",
             "nothing but separators", "a JSON body"}
BAD_ROLE_NAME = {"a value of 1 MB", "broken percent-encoding", "raw bytes that are not UTF-8", "NUL in the role name"}


def _must_refuse(label: str, service: str, action: str) -> bool:
    """Whether the form is wrong for this operation whatever else it holds: it names no operation, or it
    gives the operation's RoleName a value no role can have. Other names are ignored (AWS ignores names
    an operation does not take), so those forms may succeed."""
    if label in NO_ACTION:
        return True
    shape = service_model(service).operation_model(action).input_shape
    return label in BAD_ROLE_NAME and shape is not None and "RoleName" in shape.members


def test_hostile_forms_to_every_query_operation_never_get_a_5xx(unchanged: ServerProcess) -> None:
    for service, action in OPERATIONS:
        for label, body in _hostile_forms(service, action).items():
            status, answer = _post(unchanged, service, body)
            what = (service, action, label)
            if _must_refuse(label, service, action) or status >= 400:
                _assert_query_4xx(status, answer, what)
            else:
                assert status == 200 and ET.fromstring(answer).tag.endswith(f"{action}Response"), (what, answer[:300])


def test_odd_regions_in_the_credential_scope_get_a_query_4xx(unchanged: ServerProcess) -> None:
    for service, action in OPERATIONS:
        for region in ODD_REGIONS:
            body = f"Action={action}&Version={_version(service)}&RoleName=modelyard".encode()
            status, answer = _post(unchanged, service, body, region=region)
            _assert_query_4xx(status, answer, (service, action, region))
            assert b"region" in answer, (service, region, answer[:300])


SHAPE_TYPED = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))


@SHAPE_TYPED
@given(data=st.data())
def test_shape_typed_query_inputs_never_get_a_5xx(any_server: ServerProcess, data: st.DataObject) -> None:
    """Parameters drawn from the input shape (patterns and ranges ignored), serialized as botocore does."""
    service, action = data.draw(st.sampled_from(OPERATIONS))
    model = service_model(service).operation_model(action)
    params = data.draw(value_for(model.input_shape)) if model.input_shape is not None else {}
    request = create_serializer("query", include_validation=False).serialize_to_request(params, model)
    status, answer = _post(any_server, service, urlencode(request["body"]).encode())
    assert status < 500, (service, action, params, answer[:300])
    if status >= 400:
        _assert_query_4xx(status, answer, (service, action))
