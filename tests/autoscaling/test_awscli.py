"""The awscli (v1) speaks to modelyard's Application Auto Scaling: register, a target-tracking policy,
describe, an error, deregister (few commands: each ``aws`` start costs seconds)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.autoscaling.conftest import DIMENSION, resource
from tests.conftest import client_for
from tests.hosting.models import deploy, scaler_model
from tests.s3.test_awscli import aws, ok
from tests.support.server import ServerProcess


def test_aws_application_autoscaling_commands(server: ServerProcess, tmp_path: Path, unique: str) -> None:
    sm = client_for(server, "sagemaker")
    deploy(sm, unique, str(scaler_model(tmp_path)))
    ids = ["--service-namespace", "sagemaker", "--resource-id", resource(unique), "--scalable-dimension", DIMENSION]
    ok(aws(server, "application-autoscaling", "register-scalable-target", *ids, "--min-capacity", "1",
           "--max-capacity", "2"))
    config = {"TargetValue": 100.0, "PredefinedMetricSpecification": {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}, "ScaleInCooldown": 60}
    put = json.loads(ok(aws(server, "application-autoscaling", "put-scaling-policy", *ids, "--policy-name", "cli",
                            "--policy-type", "TargetTrackingScaling",
                            "--target-tracking-scaling-policy-configuration", json.dumps(config))))
    assert len(put["Alarms"]) == 2
    policies = json.loads(ok(aws(server, "application-autoscaling", "describe-scaling-policies",
                                 "--service-namespace", "sagemaker", "--resource-id", resource(unique))))
    [policy] = policies["ScalingPolicies"]
    assert policy["PolicyARN"] == put["PolicyARN"]
    assert policy["TargetTrackingScalingPolicyConfiguration"]["ScaleInCooldown"] == 60

    refused = aws(server, "application-autoscaling", "register-scalable-target", "--service-namespace", "sagemaker",
                  "--resource-id", resource("no-such-endpoint"), "--scalable-dimension", DIMENSION,
                  "--min-capacity", "1", "--max-capacity", "2")
    assert refused.returncode != 0 and "ValidationException" in refused.stderr and "no-such-endpoint" in refused.stderr
    ok(aws(server, "application-autoscaling", "deregister-scalable-target", *ids))
    targets = json.loads(ok(aws(server, "application-autoscaling", "describe-scalable-targets",
                                "--service-namespace", "sagemaker")))
    assert all(t["ResourceId"] != resource(unique) for t in targets["ScalableTargets"])
    sm.delete_endpoint(EndpointName=unique)
