"""Authentication and authorisation errors as each protocol's AWS services answer them.

AWS JSON 1.1 services (sagemaker, logs) answer signature errors with HTTP 400 (Coral's
``...Exception`` codes); rest-json services (sagemaker-runtime) with 403. ``AccessDeniedException``
is 403 for both.
"""

from __future__ import annotations

from functools import cache

from modelyard.wire.errors import ServiceError

MISSING_TOKEN = "MissingAuthenticationTokenException"
INCOMPLETE = "IncompleteSignatureException"
INVALID_SIGNATURE = "InvalidSignatureException"
UNRECOGNIZED_CLIENT = "UnrecognizedClientException"
ACCESS_DENIED = "AccessDeniedException"

SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your "
                      "AWS Secret Access Key and signing method. Consult the service documentation for details.")
INVALID_TOKEN = "The security token included in the request is invalid."


class AuthFailure(Exception):
    """A refused request, before it is worded for the protocol of the service it was sent to."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def as_service_error(self, status: int) -> ServiceError:
        """The error the protocol encodes, with ``status`` unless the failure names its own (access
        denials are always 403)."""
        if self.status is not None:
            status = self.status
        return _error_class(self.code, 403 if self.code == ACCESS_DENIED else status)(self.message)


@cache
def _error_class(code: str, status: int) -> type[ServiceError]:
    return type(code, (ServiceError,), {"code": code, "status": status})
