"""The one ARN helper: build and parse SageMaker ARNs."""

from __future__ import annotations

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
