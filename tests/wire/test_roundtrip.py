"""Protocol round-trips: botocore serializes a request, our decoder must recover the same parameters."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from botocore.serialize import create_serializer

from modelyard.wire.encoding import encode_output
from modelyard.wire.errors import SerializationException, UnknownOperationException, ValidationException
from modelyard.wire.json_protocol import decode_request, resolve_target
from modelyard.wire.spec import service_model

CASES = [
    ("CreateModelPackageGroup", {"ModelPackageGroupName": "grp-1", "Tags": [{"Key": "a", "Value": "b"}]}),
    ("CreateModelPackage", {
        "ModelPackageGroupName": "grp-1", "ModelApprovalStatus": "Approved", "ClientToken": "tok",
        "InferenceSpecification": {"Containers": [{"Image": "img", "ModelDataUrl": "s3://b/k",
                                                   "Environment": {"K": "V"}}],
                                   "SupportedContentTypes": ["text/csv"],
                                   "SupportedResponseMIMETypes": ["application/json"]},
        "CustomerMetadataProperties": {"x": "y"}, "SkipModelValidation": "All"}),
    ("ListModelPackages", {"MaxResults": 5, "SortOrder": "Descending", "SortBy": "CreationTime",
                           "CreationTimeAfter": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)}),
    ("CreateEndpointConfig", {"EndpointConfigName": "cfg", "ProductionVariants": [
        {"VariantName": "AllTraffic", "ModelName": "m", "InitialInstanceCount": 2, "InstanceType": "ml.m5.large",
         "InitialVariantWeight": 0.5}]}),
    ("Search", {"Resource": "ModelPackageGroup", "SearchExpression": {
        "Filters": [{"Name": "ModelPackageGroupName", "Operator": "Equals", "Value": "g"}],
        "SubExpressions": [{"Filters": [{"Name": "CreationTime", "Operator": "GreaterThan", "Value": "1"}],
                            "Operator": "Or"}]}}),
]


def _serialized_body(operation: str, params: dict) -> tuple[str, bytes]:  # type: ignore[type-arg]
    model = service_model("sagemaker").operation_model(operation)
    request = create_serializer("json").serialize_to_request(params, model)
    body = request["body"] if isinstance(request["body"], bytes) else request["body"].encode()
    return request["headers"]["X-Amz-Target"], body


def _normalized(value):  # type: ignore[no-untyped-def]
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


@pytest.mark.parametrize("operation,params", CASES, ids=[c[0] for c in CASES])
def test_botocore_request_round_trips(operation, params):  # type: ignore[no-untyped-def]
    target, body = _serialized_body(operation, params)
    decoded = decode_request(target, body)
    assert decoded.service == "sagemaker" and decoded.operation.name == operation
    assert decoded.params == _normalized(params)


def test_every_operation_target_resolves():
    model = service_model("sagemaker")
    assert "CreateModel" in model.operation_names and "InvokeEndpoint" not in model.operation_names
    for name in model.operation_names:
        service, operation = resolve_target(f"SageMaker.{name}")
        assert (service, operation.name) == ("sagemaker", name)


def test_output_encoding_drops_internal_and_null_members_and_encodes_timestamps():
    shape = service_model("sagemaker").operation_model("DescribeModelPackageGroup").output_shape
    when = dt.datetime(2024, 5, 6, tzinfo=dt.timezone.utc)
    out = encode_output(shape, {"ModelPackageGroupName": "g", "ModelPackageGroupArn": "arn",
                                "CreationTime": when, "_internal": {"secret": 1},
                                "ModelPackageGroupDescription": None, "ModelPackageGroupStatus": "Completed"})
    assert out == {"ModelPackageGroupName": "g", "ModelPackageGroupArn": "arn",
                   "CreationTime": when.timestamp(), "ModelPackageGroupStatus": "Completed"}
    json.dumps(out)


@pytest.mark.parametrize("target,body,error,text", [
    ("SageMaker.ListModels", b"{not json", SerializationException, "not valid JSON"),
    ("SageMaker.ListModels", b"[1,2]", SerializationException, "structure"),
    ("SageMaker.NoSuchThing", b"{}", UnknownOperationException, "NoSuchThing"),
    ("Nope.ListModels", b"{}", UnknownOperationException, "Nope"),
    (None, b"{}", UnknownOperationException, "X-Amz-Target"),
    ("SageMaker.ListModels", b'{"MaxResults": "ten"}', SerializationException, "maxResults"),
    ("SageMaker.ListModels", b'{"MaxResults": true}', SerializationException, "maxResults"),
    ("SageMaker.ListModels", b'{"MaxResults": 0}', ValidationException, "greater than or equal to 1"),
    ("SageMaker.ListModels", b'{"SortBy": "Size"}', ValidationException, "enum value set"),
    ("SageMaker.CreateModel", b'{}', ValidationException, "Value null at 'modelName'"),
    ("SageMaker.CreateModelPackageGroup", b'{"ModelPackageGroupName": "a_b"}', ValidationException,
     "regular expression"),
    ("SageMaker.CreateModel", b'{"ModelName": "m", "Tags": {"a": 1}}', SerializationException, "tags"),
    ("SageMaker.ListModels", b'{"CreationTimeAfter": "yesterday"}', SerializationException, "timestamp"),
])
def test_bad_requests_are_named(target, body, error, text):  # type: ignore[no-untyped-def]
    with pytest.raises(error) as info:
        decode_request(target, body)
    assert text in info.value.message


def test_every_violation_is_reported_with_its_path():
    body = json.dumps({"ModelName": "bad name!", "PrimaryContainer": {"Image": "x" * 300},
                       "ExecutionRoleArn": "nope"}).encode()
    with pytest.raises(ValidationException) as info:
        decode_request("SageMaker.CreateModel", body)
    message = info.value.message
    assert message.startswith("4 validation errors detected")  # image: length and pattern
    for path in ("'modelName'", "'primaryContainer.image'", "'executionRoleArn'"):
        assert path in message
