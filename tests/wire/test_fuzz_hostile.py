"""Hostile requests to every implemented operation of every service, on SQLite and PostgreSQL:
JSON nested deeper than any shape, integers past Python's 4,300-digit limit and past every AWS
range, non-finite numbers, forged paging tokens, Search expressions nested hundreds deep, and
credential scopes naming odd regions: every answer is an AWS-shaped 4xx and the store is unchanged.
Shape-typed inputs to every operation of every service never get a 5xx either.

Every request is signed with the server's admin key (the servers run with authentication on), so it
reaches the decoders and the operations; an answer that an unsigned request would get fails the test."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelyard.app import service_table
from modelyard.hosting.router import Router
from modelyard.services.catalog import load_services
from modelyard.services.dispatch import implemented
from modelyard.settings import Settings
from modelyard.wire.json_protocol import JsonProtocol
from modelyard.wire.spec import service_model
from tests.support.server import ServerProcess, signed_headers
from tests.support.snapshot import store_snapshot
from tests.wire.test_fuzz import value_for

load_services()


def _json_services() -> dict[str, JsonProtocol]:
    """Every service the server speaks over AWS JSON (1.0 or 1.1), by name, as the composition root builds it."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        table = service_table(Router(), Settings(), executor)
    return {service.name: service.protocol for service in table.services
            if isinstance(service.protocol, JsonProtocol)}


JSON_SERVICES = _json_services()
OPERATIONS = [(service, name) for service in JSON_SERVICES for name in sorted(implemented(service))]
TOKEN_MEMBERS = ("NextToken", "nextToken", "nextForwardToken", "nextBackwardToken")


def _nested(depth: int) -> bytes:
    return b'{"A":' + b"[" * depth + b"]" * depth + b"}"


def _search(depth: int) -> bytes:
    innermost = b'{"Filters": [{"Name": "ModelPackageGroupName", "Value": "g"}]}'
    expression = b'{"SubExpressions": [' * depth + innermost + b"]}" * depth
    return b'{"Resource": "ModelPackage", "SearchExpression": ' + expression + b"}"


HOSTILE_BODIES = {
    "nested 1,000 deep": _nested(1_000),
    "nested 100,000 deep": _nested(100_000),
    "nested objects 5,000 deep": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "integer of 5,000 digits": b'{"MaxResults": ' + b"9" * 5_000 + b"}",
    "integer of 2**70": b'{"MaxResults": %d, "limit": %d}' % (2**70, 2**70),
    "negative integer of 2**64": b'{"MaxResults": -%d}' % 2**64,
    "float 1e999": b'{"MaxResults": 1e999}',
    "NaN": b'{"MaxResults": NaN}',
    "Infinity": b'{"limit": -Infinity}',
    "Search nested 500 deep": _search(500),
    "Search nested 40 deep": _search(40),
    "string member nested": b'{"ModelName": ' + b"[" * 900 + b"]" * 900 + b"}",
}


def _forged_tokens() -> list[str]:
    def b64(payload: bytes) -> str:
        return base64.urlsafe_b64encode(payload).decode().rstrip("=")

    positions = [b"[null,1]", b"[1,%d]" % 2**70, b"[NaN,1]", b'["x",[1,2]]', b"[" * 3000 + b"]" * 3000,
                 b'["list:model/created_at/desc",[1e999,1]]', b"9" * 5000]
    tokens = [b64(p) for p in positions] + [f"{b64(p)}.000000000000" for p in positions]
    return tokens + [".", "not-a-token", "\u00e9\u00e9.\u00e9", "A" * 100_000, "%00%ff"]


FORGED_TOKENS = _forged_tokens()
ODD_REGIONS = ["x" * 40, "us-east-1" + "1" * 30, "US-EAST-1", "../../etc", "us east 1", "\u00fcs-east-1",
               "us-east-1'; DROP TABLE resources; --", "1", "-", "us-east-1\t"]


def _headers(service: str, name: str) -> dict[str, str]:
    protocol = JSON_SERVICES[service]
    return {"X-Amz-Target": f"{protocol.target_prefix}.{name}", "Content-Type": protocol.content_type}


AUTH_REFUSALS = (b"MissingAuthenticationToken", b"IncompleteSignature", b"InvalidSignatureException",
                 b"UnrecognizedClientException", b"SignatureDoesNotMatch")


def _signing_name(service: str) -> str:
    model = service_model(service)
    return str(model.signing_name or model.endpoint_prefix)


def _post(server: ServerProcess, headers: dict[str, str], body: bytes, path: str = "/", *,
          service: str = "sagemaker", region: str = "us-east-1", sign: bool = True) -> tuple[int, bytes]:
    """POST ``body``, signed with the admin key for ``service`` in ``region`` unless ``sign`` is False;
    a signed request refused by authentication fails the test (it would not have reached the decoders)."""
    host, port = server.url.removeprefix("http://").split(":")
    if sign:
        headers = signed_headers(server, "POST", f"{server.url}{path}", body, headers,
                                 service=_signing_name(service), region=region)
    status, answer = _send(host, int(port), path, headers, body)
    if sign:
        assert not any(refusal in answer[:200] for refusal in AUTH_REFUSALS), (service, path, answer[:300])
    return status, answer


def _send(host: str, port: int, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _assert_aws_4xx(status: int, body: bytes, what: Any) -> None:
    assert 400 <= status < 500, (what, status, body[:300])
    document = json.loads(body)
    assert document.get("__type") and document.get("message"), (what, body[:300])


@pytest.fixture()
def unchanged(any_server: ServerProcess) -> Iterator[ServerProcess]:
    before = store_snapshot(any_server)
    yield any_server
    assert store_snapshot(any_server) == before


def test_hostile_bodies_to_every_operation_get_a_4xx(unchanged: ServerProcess) -> None:
    for service, name in OPERATIONS:
        for label, body in HOSTILE_BODIES.items():
            status, answer = _post(unchanged, _headers(service, name), body, service=service)
            _assert_aws_4xx(status, answer, (service, name, label))


def _plain_string_members(service: str, name: str) -> list[str]:
    shape = service_model(service).operation_model(name).input_shape
    if shape is None:
        return []
    return [member for member, member_shape in shape.members.items()
            if member_shape.type_name == "string" and not member_shape.enum]


def test_nul_in_any_string_member_of_every_operation_is_refused(unchanged: ServerProcess) -> None:
    """PostgreSQL cannot store U+0000 in text; it is refused as a ValidationException on both stores
    (a NUL AlarmName once reached PostgreSQL in SetAlarmState and came back a 500)."""
    for service, name in OPERATIONS:
        for member in _plain_string_members(service, name):
            body = json.dumps({member: "a\x00b"}).encode()
            status, answer = _post(unchanged, _headers(service, name), body, service=service)
            _assert_aws_4xx(status, answer, (service, name, member))
            assert b"U+0000" in answer, (service, name, member, answer[:300])


def test_forged_page_tokens_get_a_4xx(unchanged: ServerProcess) -> None:
    for service, name in OPERATIONS:
        shape = service_model(service).operation_model(name).input_shape
        members = [m for m in TOKEN_MEMBERS if shape is not None and m in shape.members]
        for member in members:
            for token in FORGED_TOKENS:
                extra = {"Resource": "ModelPackage"} if name == "Search" else {}
                body = json.dumps({member: token, **extra}).encode()
                status, answer = _post(unchanged, _headers(service, name), body, service=service)
                _assert_aws_4xx(status, answer, (service, name, member, token[:40]))


def test_odd_regions_in_the_credential_scope_get_a_4xx(unchanged: ServerProcess) -> None:
    """Correctly signed for an odd region: refused for the region, whatever the operation."""
    for region in ODD_REGIONS:
        for service, name in OPERATIONS:
            status, answer = _send_signed_for_region(unchanged, _headers(service, name), b"{}", "/", service, region)
            _assert_aws_4xx(status, answer, (service, name, region))
        status, answer = _send_signed_for_region(unchanged, {"Content-Type": "text/csv"}, b"1,2",
                                                 "/endpoints/nothing/invocations", "sagemaker", region)
        _assert_aws_4xx(status, answer, ("InvokeEndpoint", region))


def _send_signed_for_region(server: ServerProcess, headers: dict[str, str], body: bytes, path: str, service: str,
                            region: str) -> tuple[int, bytes]:
    host, port = server.url.removeprefix("http://").split(":")
    signed = signed_headers(server, "POST", f"{server.url}{path}", body, headers, service=_signing_name(service),
                            region=region)
    return _send(host, int(port), path, signed, body)


ODD_INVOCATIONS = [
    ("/endpoints/%00/invocations", {}),
    ("/endpoints/" + "e" * 5000 + "/invocations", {}),
    ("/endpoints/%ff%fe/invocations", {}),
    ("/endpoints/x/invocations", {"X-Amzn-SageMaker-Custom-Attributes": "a" * 5000}),
    ("/endpoints/x/invocations", {"X-Amzn-SageMaker-Target-Variant": "\u00e9" * 100}),
    ("/endpoints/x/invocations", {"X-Amzn-SageMaker-Inference-Id": "i" * 1000}),
    ("/endpoints/x/invocations", {"Content-Type": "x" * 2000}),
]


def test_odd_invocations_get_a_4xx(unchanged: ServerProcess) -> None:
    for path, headers in ODD_INVOCATIONS:
        status, answer = _post(unchanged, {k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()},
                               b'{"A": ' + b"[" * 5000 + b"]" * 5000 + b"}", path)
        _assert_aws_4xx(status, answer, (path[:60], list(headers)))


SHAPE_TYPED = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


@SHAPE_TYPED
@given(data=st.data())
def test_shape_typed_inputs_to_every_service_never_get_a_5xx(any_server: ServerProcess, data: st.DataObject) -> None:
    service, name = data.draw(st.sampled_from(OPERATIONS))
    shape = service_model(service).operation_model(name).input_shape
    params = data.draw(value_for(shape)) if shape is not None else {}
    status, answer = _post(any_server, _headers(service, name), json.dumps(params).encode(), service=service)
    assert status < 500, (service, name, params, answer[:300])
    if status >= 400:
        _assert_aws_4xx(status, answer, (service, name))
