"""The routing table and InvokeEndpoint in-process: least-outstanding instances, weighted variants,
TargetVariant, (account, region, name) keys and the errors SageMaker answers."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from modelyard.hosting.instances import Reply
from modelyard.hosting.invoke import InvokeEndpoint
from modelyard.hosting.router import Router
from modelyard.settings import Limits
from modelyard.wire.errors import ModelError, RuntimeValidationError, ServiceUnavailable
from tests.hosting.fakes import FakeInstance, context, endpoint, variant


def test_pick_is_none_without_instances_and_the_only_one_with_one() -> None:
    assert variant("v", 1.0).pick() is None
    only = FakeInstance("a")
    assert variant("v", 1.0, only).pick() is only


def test_pick_prefers_the_fewest_outstanding_requests() -> None:
    busy, idle, busier = FakeInstance("busy", 3), FakeInstance("idle", 1), FakeInstance("busier", 5)
    routes = variant("v", 1.0, busy, idle, busier)
    assert all(routes.pick() is idle for _ in range(10))


def test_pick_rotates_among_equally_loaded_instances() -> None:
    instances = [FakeInstance(str(i)) for i in range(3)]
    routes = variant("v", 1.0, *instances)
    picked = [routes.pick() for _ in range(6)]
    assert {id(p) for p in picked[:3]} == {id(i) for i in instances}
    assert picked[:3] == picked[3:]


def test_pick_variant_follows_the_cumulative_weights() -> None:
    first, second = variant("a", 3.0, FakeInstance("a")), variant("b", 1.0, FakeInstance("b"))
    assert endpoint("ep", first, second, draw=lambda: 0.0).pick_variant() is first
    assert endpoint("ep", first, second, draw=lambda: 0.74).pick_variant() is first
    assert endpoint("ep", first, second, draw=lambda: 0.76).pick_variant() is second
    assert endpoint("ep", first, second, draw=lambda: 0.999999).pick_variant() is second


def test_pick_variant_splits_traffic_by_weight() -> None:
    first, second = variant("a", 3.0, FakeInstance("a")), variant("b", 1.0, FakeInstance("b"))
    routes = endpoint("ep", first, second, draw=random.Random(20261130).random)
    share = sum(routes.pick_variant() is first for _ in range(20_000)) / 20_000
    assert 0.73 < share < 0.77


def test_pick_variant_skips_zero_weights_and_empty_variants() -> None:
    serving = variant("serving", 1.0, FakeInstance("a"))
    routes = endpoint("ep", variant("zero", 0.0, FakeInstance("b")), variant("empty", 5.0), serving,
                      draw=lambda: 0.0)
    assert routes.pick_variant() is serving
    assert endpoint("ep", variant("empty", 1.0)).pick_variant() is None


def test_router_keys_by_account_region_and_name() -> None:
    router = Router()
    routes = endpoint("ep", variant("v", 1.0, FakeInstance("a")))
    router.publish("111111111111", "eu-west-1", routes)
    assert router.get("111111111111", "eu-west-1", "ep") is routes
    assert router.get("222222222222", "eu-west-1", "ep") is None
    assert router.get("111111111111", "us-east-1", "ep") is None
    router.withdraw("111111111111", "eu-west-1", "ep")
    assert router.get("111111111111", "eu-west-1", "ep") is None


def _invoke(router: Router, params: dict[str, Any], **ctx: str) -> dict[str, Any]:
    handler = InvokeEndpoint(router, Limits(invoke_body_bytes=64, invoke_timeout_seconds=1.0))
    return asyncio.run(handler(context(**ctx), {"Body": b"1,2", **params}))


def _router(*variants: Any, status: str = "InService") -> Router:
    router = Router()
    router.publish("000000000000", "us-east-1", endpoint("ep", *variants, status=status, draw=lambda: 0.0))
    return router


def test_invoke_returns_the_instance_answer_and_the_variant() -> None:
    instance = FakeInstance("a", reply=Reply(200, b"[3]", "application/json", "attr"))
    result = _invoke(_router(variant("v", 1.0, instance)),
                     {"EndpointName": "ep", "ContentType": "text/csv", "Accept": "application/json"})
    assert result == {"Body": b"[3]", "ContentType": "application/json", "InvokedProductionVariant": "v",
                      "CustomAttributes": "attr"}
    assert instance.calls[0].body == b"1,2" and instance.calls[0].content_type == "text/csv"


def test_target_variant_overrides_the_weights() -> None:
    heavy, light = FakeInstance("heavy"), FakeInstance("light")
    router = _router(variant("heavy", 100.0, heavy), variant("light", 0.001, light))
    assert _invoke(router, {"EndpointName": "ep", "TargetVariant": "light"})["InvokedProductionVariant"] == "light"
    assert light.calls and not heavy.calls


def test_unknown_target_variant_is_a_validation_error_naming_the_variants() -> None:
    router = _router(variant("v", 1.0, FakeInstance("a")))
    with pytest.raises(RuntimeValidationError, match=r"Variant nope not found .*\['v'\]"):
        _invoke(router, {"EndpointName": "ep", "TargetVariant": "nope"})


def test_endpoints_of_other_accounts_and_regions_are_not_found() -> None:
    router = _router(variant("v", 1.0, FakeInstance("a")))
    with pytest.raises(RuntimeValidationError, match="Endpoint ep of account 999999999999 not found"):
        _invoke(router, {"EndpointName": "ep"}, account="999999999999")
    with pytest.raises(RuntimeValidationError, match="not found"):
        _invoke(router, {"EndpointName": "ep"}, region="eu-west-1")


def test_an_endpoint_not_in_service_cannot_be_invoked() -> None:
    router = _router(variant("v", 1.0, FakeInstance("a")), status="Creating")
    with pytest.raises(RuntimeValidationError, match="is Creating"):
        _invoke(router, {"EndpointName": "ep"})


def test_no_instance_is_service_unavailable() -> None:
    with pytest.raises(ServiceUnavailable, match="no healthy instance"):
        _invoke(_router(variant("v", 1.0)), {"EndpointName": "ep"})


def test_a_model_failure_is_a_model_error_with_the_original_status() -> None:
    instance = FakeInstance("a", reply=Reply(500, b"boom"))
    with pytest.raises(ModelError) as info:
        _invoke(_router(variant("v", 1.0, instance)), {"EndpointName": "ep"})
    assert info.value.fields["OriginalStatusCode"] == 500 and info.value.fields["OriginalMessage"] == "boom"
    assert info.value.fields["LogStreamArn"].endswith("/aws/sagemaker/Endpoints/ep")


def test_an_oversized_answer_is_a_model_error() -> None:
    instance = FakeInstance("a", reply=Reply(200, b"x" * 65))
    with pytest.raises(ModelError, match="exceeds the limit of 64 bytes"):
        _invoke(_router(variant("v", 1.0, instance)), {"EndpointName": "ep"})


def test_a_dropped_connection_is_retried_once_then_unavailable() -> None:
    broken, healthy = FakeInstance("broken", fail=ConnectionResetError), FakeInstance("healthy")
    assert _invoke(_router(variant("v", 1.0, healthy, broken)), {"EndpointName": "ep"})["Body"] == b"ok"
    assert len(broken.calls) == 1 and len(healthy.calls) == 1
    with pytest.raises(ServiceUnavailable, match="closed the connection"):
        _invoke(_router(variant("v", 1.0, FakeInstance("b", fail=ConnectionResetError))), {"EndpointName": "ep"})


def test_a_timeout_is_a_model_error() -> None:
    instance = FakeInstance("slow", fail=asyncio.TimeoutError)
    with pytest.raises(ModelError, match="timed out"):
        _invoke(_router(variant("v", 1.0, instance)), {"EndpointName": "ep"})
