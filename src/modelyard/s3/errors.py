"""S3's error codes, with the HTTP status S3 gives each."""

from __future__ import annotations

from modelyard.wire.errors import ServiceError


class S3Error(ServiceError):
    """Base class of S3's errors."""


def _error(code: str, status: int, doc: str) -> type[S3Error]:
    return type(code, (S3Error,), {"code": code, "status": status, "__doc__": doc})


AccessDenied = _error("AccessDenied", 403, "The bucket belongs to another account, or the key may not call this.")
BadDigest = _error("BadDigest", 400, "A Content-MD5 or checksum that does not match the body.")
BucketAlreadyExists = _error("BucketAlreadyExists", 409, "The bucket name is taken by another account.")
BucketAlreadyOwnedByYou = _error("BucketAlreadyOwnedByYou", 409, "The caller already owns the bucket.")
BucketNotEmpty = _error("BucketNotEmpty", 409, "The bucket still holds objects or uploads.")
EntityTooLarge = _error("EntityTooLarge", 400, "An upload over the size limit.")
EntityTooSmall = _error("EntityTooSmall", 400, "A part other than the last is under 5 MiB.")
IllegalLocationConstraint = _error("IllegalLocationConstraintException", 400,
                                   "A location constraint that differs from the request's region.")
IncompleteBody = _error("IncompleteBody", 400, "Fewer bytes than Content-Length.")
InvalidArgument = _error("InvalidArgument", 400, "A header, query parameter or member S3 would refuse.")
InvalidBucketName = _error("InvalidBucketName", 400, "A bucket name S3 would refuse.")
InvalidDigest = _error("InvalidDigest", 400, "A Content-MD5 or checksum header that is not well-formed.")
InvalidPart = _error("InvalidPart", 400, "A completed part that was not uploaded or whose ETag differs.")
InvalidPartOrder = _error("InvalidPartOrder", 400, "Completed parts not in ascending order.")
InvalidRange = _error("InvalidRange", 416, "A range outside the object.")
InvalidRequest = _error("InvalidRequest", 400, "A request S3 refuses as a whole.")
KeyTooLongError = _error("KeyTooLongError", 400, "A key over 1,024 bytes.")
MalformedXML = _error("MalformedXML", 400, "A request document that is not the operation's XML.")
NoSuchBucket = _error("NoSuchBucket", 404, "The bucket does not exist.")
NoSuchKey = _error("NoSuchKey", 404, "The object does not exist.")
NoSuchUpload = _error("NoSuchUpload", 404, "The multipart upload does not exist (completed or aborted).")
NotImplementedS3 = _error("NotImplemented", 501, "A feature modelyard's S3 does not implement.")
NotModified = _error("NotModified", 304, "A conditional GET whose object has not changed.")
PreconditionFailed = _error("PreconditionFailed", 412, "A condition (If-Match, If-Unmodified-Since) that fails.")
ContentSHA256Mismatch = _error("XAmzContentSHA256Mismatch", 400,
                               "A body whose SHA-256 differs from the signed x-amz-content-sha256.")

InternalError = _error("InternalError", 500, "An unexpected server error (detail in the server log).")
MissingContentLength = _error("MissingContentLength", 411, "An upload without a Content-Length header.")


def not_implemented(service: str, operation: str) -> ServiceError:
    """The answer to an S3 operation modelyard does not serve."""
    return NotImplementedS3(f"modelyard's S3 does not implement {operation} yet (see docs/IMPLEMENTATION_COVERAGE.md "
                            "for the operations it serves)", Operation=operation)


def internal_error(request_id: str) -> ServiceError:
    """The answer to an unexpected failure."""
    return InternalError(f"We encountered an internal error; see the server log for request {request_id}")


def too_large(size: int, limit: int) -> ServiceError:
    """The answer to a body over the limit."""
    return EntityTooLarge(f"Your proposed upload exceeds the maximum allowed size ({size} > {limit} bytes)",
                          MaxSizeAllowed=limit)


AUTH_CODES = {"InvalidSignatureException": "SignatureDoesNotMatch", "UnrecognizedClientException": "InvalidAccessKeyId",
              "AccessDeniedException": "AccessDenied", "MissingAuthenticationTokenException": "AccessDenied",
              "IncompleteSignatureException": "AuthorizationHeaderMalformed",
              "UnknownOperationException": "NotImplemented", "ValidationException": "InvalidArgument",
              "SerializationException": "InvalidArgument", "InternalFailure": "InternalError",
              "RequestEntityTooLargeException": "EntityTooLarge"}
"""The codes S3 gives errors the shared layers raise under other services' names."""
