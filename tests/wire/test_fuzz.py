"""Fuzz the decoder through the running server with inputs generated from botocore's shapes.

Shape-conforming inputs (valid types, arbitrary values) never get a 5xx; the same inputs with one
member of the wrong JSON type always get a 4xx with an AWS error body.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from botocore.model import Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelyard.services.catalog import load_services
from modelyard.services.dispatch import implemented
from modelyard.wire.spec import service_model
from tests.support.server import ServerProcess, signed_headers

MODEL = service_model("sagemaker")
ALL_OPERATIONS = sorted(MODEL.operation_names)
load_services()
IMPLEMENTED = sorted(implemented("sagemaker"))


def value_for(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of the right JSON type for ``shape`` (constraints not necessarily met)."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]
        required = set(shape.required_members)  # type: ignore[attr-defined]
        optional = {} if depth > 3 else {n: value_for(s, depth + 1) for n, s in members.items() if n not in required}
        return st.fixed_dictionaries({n: value_for(members[n], depth + 1) for n in required},
                                     optional=dict(list(optional.items())[:12]))
    if kind == "list":
        return st.lists(value_for(shape.member, depth + 1), max_size=0 if depth > 3 else 3)  # type: ignore[attr-defined]
    if kind == "map":
        return st.dictionaries(st.text(max_size=8), value_for(shape.value, depth + 1), max_size=2)  # type: ignore[attr-defined]
    if kind == "string":
        if shape.enum:
            return st.sampled_from(shape.enum) | st.text(max_size=5)
        return st.text(max_size=70)
    if kind in ("integer", "long"):
        return st.integers(min_value=-(2**40), max_value=2**40)
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.integers(min_value=0, max_value=2**33)
    if kind == "blob":
        return st.sampled_from(["", "aGVsbG8=", "!!notbase64"])
    return st.none()


def wrong_type_for(shape: Shape) -> Any:
    """A JSON value of a type ``shape`` never accepts."""
    return {"structure": "text", "list": {"a": 1}, "map": [1], "string": 12345, "boolean": "yes",
            "timestamp": [], "blob": 7}.get(shape.type_name, "not-a-number")


def post(server: ServerProcess, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
    url = server.url + "/"
    request = urllib.request.Request(url, data=body, method="POST", headers=signed_headers(
        server, "POST", url, body, {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@st.composite
def request_for(draw: st.DrawFn, operations: list[str]) -> tuple[str, dict[str, Any], Shape | None]:
    name = draw(st.sampled_from(operations))
    shape = MODEL.operation_model(name).input_shape
    params = draw(value_for(shape)) if shape is not None else {}
    return name, params, shape


FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(data=st.data())
def test_shape_typed_inputs_never_get_a_5xx(server, data):  # type: ignore[no-untyped-def]
    name, params, _ = data.draw(request_for(IMPLEMENTED))
    status, body = post(server, f"SageMaker.{name}", json.dumps(params).encode())
    assert status < 500, (name, params, body)
    if status >= 400:
        assert body.get("__type") and body.get("message"), body


@FUZZ
@given(data=st.data())
def test_a_wrongly_typed_member_always_gets_a_4xx(server, data):  # type: ignore[no-untyped-def]
    name, params, shape = data.draw(request_for([op for op in ALL_OPERATIONS
                                                 if MODEL.operation_model(op).input_shape is not None
                                                 and MODEL.operation_model(op).input_shape.members]))
    member = data.draw(st.sampled_from(sorted(shape.members)))
    params[member] = wrong_type_for(shape.members[member])
    status, body = post(server, f"SageMaker.{name}", json.dumps(params).encode())
    assert 400 <= status < 500, (name, member, params, body)
    assert body["__type"] in ("SerializationException", "ValidationException"), body


@FUZZ
@given(raw=st.binary(max_size=200), op=st.sampled_from(ALL_OPERATIONS))
def test_arbitrary_bytes_get_a_4xx(server, raw, op):  # type: ignore[no-untyped-def]
    status, body = post(server, f"SageMaker.{op}", raw)
    assert status < 500 or status == 501, (op, raw, body)
