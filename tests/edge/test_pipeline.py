"""The request pipeline in-process: routing to services, per-service body limits, authentication
for every service, account and region in the context, and errors encoded in each service's protocol."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest

from modelyard.app import service_table
from modelyard.context import AppState, RequestContext
from modelyard.edge.pipeline import Pipeline
from modelyard.edge.services import OperationHandler, Service, ServiceTable
from modelyard.hosting import invoke
from modelyard.hosting.router import Router
from modelyard.server import ModelyardApp
from modelyard.settings import Settings
from modelyard.wire.auth import AuthRequest, Principal, parse_authorization
from modelyard.wire.errors import RuntimeValidationError, ServiceError, ValidationException
from modelyard.wire.json_protocol import JsonProtocol
from modelyard.wire.protocol import HttpRequest
from modelyard.wire.rest_json import RestJsonProtocol
from tests.edge.asgi import Answer, request

ACCOUNT = "123456789012"
SIGNED_EU = ("AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/sagemaker/aws4_request, "
             "SignedHeaders=host, Signature=abc")


class Refused(ServiceError):
    code = "UnrecognizedClientException"
    status = 403


class RecordingAuthenticator:
    """Reads the principal like the real one and remembers every request it saw; refuses key BAD."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes]] = []

    def verify(self, request: AuthRequest) -> Principal:
        self.seen.append((request.method, request.raw_path, request.body))
        principal = parse_authorization(request.headers.get("authorization"))
        if principal.access_key == "BAD":
            raise Refused("The security token included in the request is invalid.")
        return principal


class Recorder:
    """An async handler answering ``result`` (or raising ``error``) and keeping its contexts."""

    def __init__(self, result: Mapping[str, Any] | None = None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self.calls: list[tuple[RequestContext, dict[str, Any]]] = []

    async def __call__(self, ctx: RequestContext, params: dict[str, Any]) -> Mapping[str, Any] | None:
        self.calls.append((ctx, params))
        if self.error is not None:
            raise self.error
        return self.result


def make_app(sagemaker: dict[str, OperationHandler], logs: dict[str, OperationHandler],
             runtime: dict[str, OperationHandler]) -> tuple[ModelyardApp, RecordingAuthenticator]:
    settings = Settings(account_id=ACCOUNT, default_region="us-west-2")
    state = AppState(settings=settings, db=cast(Any, None), logs=cast(Any, None), endpoints=cast(Any, None),
                     transforms=cast(Any, None), jobs=cast(Any, None))
    table = ServiceTable([
        Service("sagemaker", JsonProtocol("sagemaker"), 1000, sagemaker),
        Service("logs", JsonProtocol("logs"), 1000, logs),
        Service("sagemaker-runtime", RestJsonProtocol("sagemaker-runtime", "/endpoints/", RuntimeValidationError),
                100, runtime, too_large=invoke.payload_too_large, internal_error=invoke.routing_failed,
                not_implemented=invoke.not_implemented),
    ])
    authenticator = RecordingAuthenticator()
    return ModelyardApp(Pipeline(table, authenticator, state)), authenticator


def control(app: ModelyardApp, target: str | None, body: bytes = b"{}", **headers: str) -> Answer:
    sent = {"content-type": "application/x-amz-json-1.1", **({"x-amz-target": target} if target else {}), **headers}
    return asyncio.run(request(app, "POST", "/", sent, body))


def invoke_call(app: ModelyardApp, path: str = "/endpoints/ep/invocations", body: bytes = b"1,2",
                method: str = "POST", **headers: str) -> Answer:
    return asyncio.run(request(app, method, path, {"content-type": "text/csv", **headers}, body))


def assert_json11_error(answer: Answer, status: int, code: str) -> dict[str, Any]:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/x-amz-json-1.1"
    assert answer.headers["x-amzn-errortype"] == code and answer.headers["x-amzn-requestid"]
    error = answer.error()
    assert error["__type"] == code and "Traceback" not in error["message"]
    return error


def assert_rest_json_error(answer: Answer, status: int, code: str) -> dict[str, Any]:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-amzn-errortype"] == code and answer.headers["x-amzn-requestid"]
    error = answer.error()
    assert error["__type"] == code and error["Message"] == error["message"]
    assert "Traceback" not in error["message"]
    return error


def test_json_targets_reach_their_service_with_account_and_signed_region() -> None:
    models, groups = Recorder({"Models": []}), Recorder({"logGroups": []})
    app, _ = make_app({"ListModels": models}, {"DescribeLogGroups": groups}, {})
    answer = control(app, "SageMaker.ListModels", authorization=SIGNED_EU)
    assert answer.status == 200 and json.loads(answer.body) == {"Models": []}
    assert answer.headers["x-amzn-requestid"] and answer.headers["server-timing"].startswith("app;dur=")
    ctx, _ = models.calls[0]
    assert (ctx.account, ctx.region, ctx.operation) == (ACCOUNT, "eu-west-1", "ListModels")
    assert ctx.request_id == answer.headers["x-amzn-requestid"]
    assert control(app, "Logs_20140328.DescribeLogGroups").status == 200
    assert groups.calls[0][0].region == "us-west-2"


def test_runtime_requests_are_routed_by_path_and_authenticated() -> None:
    handler = Recorder({"Body": b"[1]", "ContentType": "application/json", "InvokedProductionVariant": "v"})
    app, authenticator = make_app({}, {}, {"InvokeEndpoint": handler})
    answer = invoke_call(app, authorization=SIGNED_EU, **{"x-amzn-sagemaker-target-variant": "v"})
    assert answer.status == 200 and answer.body == b"[1]"
    assert answer.headers["x-amzn-invoked-production-variant"] == "v" and answer.headers["x-amzn-requestid"]
    assert authenticator.seen == [("POST", "/endpoints/ep/invocations", b"1,2")]
    ctx, params = handler.calls[0]
    assert (ctx.account, ctx.region) == (ACCOUNT, "eu-west-1")
    assert params["EndpointName"] == "ep" and params["Body"] == b"1,2" and params["TargetVariant"] == "v"


def test_a_refused_signature_is_answered_in_each_protocol() -> None:
    handler = Recorder({})
    app, _ = make_app({"ListModels": handler}, {}, {"InvokeEndpoint": handler})
    bad = "AWS4-HMAC-SHA256 Credential=BAD/20260101/us-east-1/sagemaker/aws4_request"
    assert_json11_error(control(app, "SageMaker.ListModels", authorization=bad), 403, "UnrecognizedClientException")
    assert_rest_json_error(invoke_call(app, authorization=bad), 403, "UnrecognizedClientException")
    assert not handler.calls


def test_unrouted_and_unknown_operations() -> None:
    app, _ = make_app({}, {}, {})
    assert "X-Amz-Target" in assert_json11_error(control(app, None), 400, "UnknownOperationException")["message"]
    assert "Nope" in assert_json11_error(control(app, "Nope.ListModels"), 400, "UnknownOperationException")["message"]
    assert_json11_error(control(app, "SageMaker.Bogus"), 400, "UnknownOperationException")
    answer = asyncio.run(request(app, "GET", "/nowhere"))
    assert "No route for GET /nowhere" in assert_json11_error(answer, 400, "UnknownOperationException")["message"]
    assert_rest_json_error(invoke_call(app, "/endpoints/ep/elsewhere"), 400, "UnknownOperationException")
    assert_rest_json_error(invoke_call(app, method="GET"), 400, "UnknownOperationException")


def test_unimplemented_operations_say_so_in_their_protocol() -> None:
    app, _ = make_app({}, {}, {})
    error = assert_json11_error(control(app, "SageMaker.ListModels"), 501, "NotImplemented")
    assert "sagemaker operation ListModels" in error["message"]
    assert_rest_json_error(invoke_call(app), 501, "NotImplemented")


def test_bad_input_is_the_protocol_s_validation_error() -> None:
    app, _ = make_app({"CreateModel": Recorder({})}, {}, {"InvokeEndpoint": Recorder({})})
    assert_json11_error(control(app, "SageMaker.CreateModel", b"{oops"), 400, "SerializationException")
    assert_json11_error(control(app, "SageMaker.CreateModel", b"{}"), 400, "ValidationException")
    too_long = "x" * 2000
    answer = invoke_call(app, **{"x-amzn-sagemaker-custom-attributes": too_long})
    assert_rest_json_error(answer, 400, "ValidationError")


def test_each_service_reads_its_body_up_to_its_own_limit() -> None:
    app, authenticator = make_app({"CreateModel": Recorder({})}, {}, {"InvokeEndpoint": Recorder({})})
    assert_rest_json_error(invoke_call(app, body=b"x" * 101), 413, "RequestEntityTooLargeException")
    assert invoke_call(app, body=b"x" * 100).status == 200
    body = json.dumps({"ModelName": "m" * 990}).encode()
    answer = asyncio.run(request(app, "POST", "/", {"x-amz-target": "SageMaker.CreateModel"}, body, chunk=300))
    assert_json11_error(answer, 413, "RequestEntityTooLargeException")
    assert [path for _, path, _ in authenticator.seen] == ["/endpoints/ep/invocations"]


@pytest.mark.parametrize("error,status,code", [
    (ValidationException("Could not find model \"m\"."), 400, "ValidationException"),
    (RuntimeError("secret detail"), 500, "InternalFailure"),
])
def test_handler_errors_in_the_control_plane(error: BaseException, status: int, code: str) -> None:
    app, _ = make_app({"ListModels": Recorder(error=error)}, {}, {})
    body = assert_json11_error(control(app, "SageMaker.ListModels"), status, code)
    assert "secret detail" not in body["message"]


def test_an_unexpected_invoke_failure_is_service_unavailable_without_detail() -> None:
    app, _ = make_app({}, {}, {"InvokeEndpoint": Recorder(error=RuntimeError("secret detail"))})
    error = assert_rest_json_error(invoke_call(app), 503, "ServiceUnavailable")
    assert "secret detail" not in error["message"] and "see the server log" in error["message"]


def test_health_check_bypasses_the_pipeline() -> None:
    app, authenticator = make_app({}, {}, {})
    answer = asyncio.run(request(app, "GET", "/_modelyard/health"))
    assert (answer.status, answer.body) == (200, b'{"status":"ok"}') and not authenticator.seen


ROOT_ONLY_PROBES = [
    ("POST", "/endpoints/ep/invocations", {"x-amz-target": "SageMaker.ListModels",
                                           "authorization": "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/sts/"
                                                            "aws4_request, SignedHeaders=host, Signature=00"}),
    ("GET", "/x", {"authorization": "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/iam/aws4_request"}),
    ("POST", "//", {"x-amz-target": "Logs_20140328.GetLogEvents"}),
    ("POST", "/bucket", {"x-amz-target": "SageMaker.ListModels", "host": "bucket.s3.localhost"}),
]


@pytest.mark.parametrize(("method", "path", "headers"), ROOT_ONLY_PROBES)
def test_a_table_skips_root_only_protocols_without_changing_who_claims(method: str, path: str,
                                                                       headers: dict[str, str]) -> None:
    """A protocol of the server's own table that says it claims only ``/`` claims no other path, even when
    its target or signature scope is named; so ``ServiceTable.find`` may skip it there."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        table = service_table(Router(), Settings(), executor)
    sent = HttpRequest(method, path, b"", headers, path.encode())
    root_only = [service for service in table.services if service.protocol.claims_only_root]
    assert {"sagemaker", "logs", "sts", "iam"} <= {service.name for service in root_only}
    assert not [service.name for service in root_only if service.protocol.claims(sent)]
    assert table.find(sent) is next((service for service in table.services if service.protocol.claims(sent)), None)
