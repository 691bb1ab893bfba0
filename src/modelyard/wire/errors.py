"""AWS errors as exceptions that carry their wire code; only the wire layer serializes them.

Services raise these; ``wire.json_protocol`` / ``wire.rest_json`` turn them into
``{"__type": code, "message": ...}`` with the right HTTP status.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ServiceError(Exception):
    """Base class: an error with an AWS code, an HTTP status and optional extra body fields."""

    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 400

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class ValidationException(ServiceError):
    """Input that fails a constraint; also SageMaker's "Could not find …" for models and endpoints."""

    code = "ValidationException"


class SerializationException(ServiceError):
    """A body that is not JSON, or a member of the wrong type."""

    code = "SerializationException"


class UnknownOperationException(ServiceError):
    """A target that names no operation of the service."""

    code = "UnknownOperationException"


class ResourceNotFound(ServiceError):
    """A registry or job resource that does not exist."""

    code = "ResourceNotFound"


class ResourceInUse(ServiceError):
    """A resource that exists already, or is in a state that forbids the request."""

    code = "ResourceInUse"


class ResourceLimitExceeded(ServiceError):
    """A quota would be exceeded."""

    code = "ResourceLimitExceeded"


class ConflictException(ServiceError):
    """A concurrent or conflicting modification."""

    code = "ConflictException"


class RequestTooLarge(ServiceError):
    """A request body over the configured limit."""

    code = "RequestEntityTooLargeException"
    status = 413


class NotImplementedOperation(ServiceError):
    """An operation of the service model that modelyard does not implement yet."""

    code = "NotImplemented"
    status = 501


class InternalFailure(ServiceError):
    """An unexpected server error; the detail goes to the server log, not to the client."""

    code = "InternalFailure"
    status = 500


class ServiceUnavailable(ServiceError):
    """A dependency (database, instance) is temporarily unavailable."""

    code = "ServiceUnavailable"
    status = 503


# sagemaker-runtime errors


class RuntimeValidationError(ServiceError):
    """sagemaker-runtime's ValidationError (unknown endpoint, bad headers, oversized body)."""

    code = "ValidationError"


class ModelError(ServiceError):
    """The model container answered an error (HTTP 424), with the original status and message;
    ``model_seconds`` is how long the model took, and ``container_seconds`` how long each container of a
    multi-container model that was called took, for the endpoint's metrics."""

    code = "ModelError"
    status = 424
    model_seconds: float | None = None
    container_seconds: tuple[tuple[str, float], ...] = ()


class ModelNotReadyException(ServiceError):
    """The target model is not ready to serve (HTTP 429)."""

    code = "ModelNotReadyException"
    status = 429


class ThrottlingException(ServiceError):
    """Too many requests (e.g. serverless MaxConcurrency)."""

    code = "ThrottlingException"


# CloudWatch Logs errors


class LogsResourceNotFound(ServiceError):
    """CloudWatch Logs' ResourceNotFoundException."""

    code = "ResourceNotFoundException"


class LogsInvalidParameter(ServiceError):
    """CloudWatch Logs' InvalidParameterException."""

    code = "InvalidParameterException"


class ResourceAlreadyExistsException(ServiceError):
    """CloudWatch Logs' ResourceAlreadyExistsException (a log group or stream that exists)."""

    code = "ResourceAlreadyExistsException"


# CloudWatch errors (query codes; the JSON protocol names their shapes)


class InvalidParameterValue(ServiceError):
    """CloudWatch's InvalidParameterValue: a parameter outside what CloudWatch accepts."""

    code = "InvalidParameterValue"


class InvalidParameterCombination(ServiceError):
    """CloudWatch's InvalidParameterCombination: parameters that exclude each other, or too many datapoints."""

    code = "InvalidParameterCombination"


class MissingParameter(ServiceError):
    """CloudWatch's MissingParameter: a parameter required in this combination."""

    code = "MissingParameter"


class CloudWatchValidationError(ServiceError):
    """CloudWatch's ValidationError (GetMetricData's malformed queries, unsupported features)."""

    code = "ValidationError"


class InvalidNextToken(ServiceError):
    """CloudWatch's InvalidNextToken."""

    code = "InvalidNextToken"


class CloudWatchResourceNotFound(ServiceError):
    """CloudWatch's ResourceNotFound (an alarm that does not exist)."""

    code = "ResourceNotFound"
    status = 404


class CloudWatchLimitExceeded(ServiceError):
    """CloudWatch's LimitExceeded (too many alarms)."""

    code = "LimitExceeded"


class InvalidFormat(ServiceError):
    """CloudWatch's InvalidFormat (SetAlarmState's StateReasonData that is not JSON)."""

    code = "InvalidFormat"

# IAM errors


class NoSuchEntity(ServiceError):
    """IAM's NoSuchEntity: a role, user or policy that does not exist (HTTP 404)."""

    code = "NoSuchEntity"
    status = 404


class ObjectNotFoundException(ServiceError):
    """Application Auto Scaling's ObjectNotFoundException (a target or policy that does not exist)."""

    code = "ObjectNotFoundException"


class InvalidNextTokenException(ServiceError):
    """Application Auto Scaling's InvalidNextTokenException."""

    code = "InvalidNextTokenException"
