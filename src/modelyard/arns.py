"""The one ARN helper: build and parse SageMaker ARNs."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

# Resource types whose ARNs AWS lower-cases.
_LOWERCASED = frozenset({"endpoint", "endpoint-config", "training-job", "processing-job", "transform-job",
                         "hyper-parameter-tuning-job"})


@dataclass(frozen=True)
class Arn:
    """A parsed ARN: ``arn:aws:<service>:<region>:<account>:<resource_type>/<resource_id>``."""

    service: str
    region: str
    account: str
    resource_type: str
    resource_id: str

    def __str__(self) -> str:
        return f"arn:aws:{self.service}:{self.region}:{self.account}:{self.resource_type}/{self.resource_id}"


def sagemaker_arn(region: str, account: str, resource_type: str, resource_id: str) -> str:
    """The ARN of a SageMaker resource, lower-cased where AWS lower-cases it."""
    if resource_type in _LOWERCASED:
        resource_id = resource_id.lower()
    return str(Arn("sagemaker", region, account, resource_type, resource_id))


def parse_arn(value: str) -> Arn | None:
    """Parse an ARN; ``None`` when it is not one."""
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1].startswith("aws"):
        return None
    resource_type, sep, resource_id = parts[5].partition("/")
    if not sep or not resource_id:
        return None
    return Arn(parts[2], parts[3], parts[4], resource_type, resource_id)


def is_arn(value: str) -> bool:
    """Whether ``value`` looks like an ARN."""
    return value.startswith("arn:")


def log_group_arn(region: str, account: str, group: str) -> str:
    """The ARN of a CloudWatch Logs group (without the trailing ``:*``)."""
    return f"arn:aws:logs:{region}:{account}:log-group:{group}"


def alarm_arn(region: str, account: str, name: str) -> str:
    """A CloudWatch metric alarm's ARN (``arn:aws:cloudwatch:<region>:<account>:alarm:<name>``)."""
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"


SCALING_POLICY_ARN = re.compile(
    r"arn:aws:autoscaling:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):scalingPolicy:[0-9a-f-]{36}:"
    r"resource/(?P<namespace>[a-z-]+)/(?P<resource>.+):policyName/(?P<name>.+)")
"""An Application Auto Scaling policy's ARN, as alarm actions name it."""


def scaling_policy_arn(region: str, account: str, namespace: str, resource_id: str, name: str) -> str:
    """A new scaling policy's ARN (a fresh id: a policy deleted and put again gets another ARN)."""
    return (f"arn:aws:autoscaling:{region}:{account}:scalingPolicy:{uuid.uuid4()}:"
            f"resource/{namespace}/{resource_id}:policyName/{name}")


def scalable_target_arn(region: str, account: str) -> str:
    """A new scalable target's ARN."""
    return f"arn:aws:application-autoscaling:{region}:{account}:scalable-target/{uuid.uuid4().hex}"
