"""Request authentication as the pipeline sees it: the request's signed parts in, a principal out.

``Authenticator.verify`` raises a ``ServiceError`` to reject a request. ``modelyard.auth`` holds the
SigV4 verifier (auth on) and the accept-anything authenticator (``--auth off``); each service states
its ``AuthRules`` (signing name, the HTTP status its protocol gives signature errors, which payload
markers it accepts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class AuthRules:
    """How one service's requests are signed and refused."""

    signing_name: str
    error_status: int = 400
    unsigned_payload: bool = False
    streaming_payload: bool = False
    deferred_payload: bool = False
    """The body is not read before authentication: a hex ``x-amz-content-sha256`` is signed as declared and
    the body's reader checks it (S3's streamed uploads)."""
    uri_as_sent: bool = False
    """The path is signed as sent, not normalised and encoded again (S3)."""
    action_prefix: str | None = None
    """The service's IAM action prefix where it differs from its signing name (CloudWatch signs as
    ``monitoring``, its actions are ``cloudwatch:*``)."""

    @property
    def iam_prefix(self) -> str:
        """The prefix of this service's IAM actions."""
        return self.action_prefix or self.signing_name


@dataclass(slots=True)
class AuthRequest:
    """What authentication reads of a request: ``raw_path`` and ``query`` still percent-encoded,
    header names lower-case; ``action`` is the IAM action (``sagemaker:InvokeEndpoint``). Read-only
    by convention."""

    method: str
    raw_path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    rules: AuthRules
    action: str


@dataclass(frozen=True, slots=True)
class PayloadSigning:
    """What a body reader needs after authentication to check the payload itself (services whose
    ``AuthRules`` accept streaming or unsigned payloads, i.e. S3): the declared
    ``x-amz-content-sha256`` (a hex SHA-256, ``UNSIGNED-PAYLOAD``, a ``STREAMING-…`` marker, or None
    when absent), the request's own signature (the seed of a chunk-signature chain), the derived
    signing key (None with ``--auth off``: chunk signatures are then not checked), the credential
    scope (``date/region/service/aws4_request``) and the signing time (``x-amz-date``)."""

    content_sha256: str | None
    seed_signature: str
    signing_key: bytes | None
    scope: str
    timestamp: str


@dataclass(frozen=True)
class Principal:
    """The caller: its access key, account (None: the server's default) and the region it signed for;
    ``payload`` is set for services that check the payload after authentication (see ``PayloadSigning``)."""

    access_key: str | None
    region: str | None
    service: str | None
    account: str | None = None
    payload: PayloadSigning | None = None


def parse_authorization(header: str | None) -> Principal:
    """Read access key, region and service from a SigV4 ``Authorization`` header."""
    if not header or not header.startswith("AWS4-HMAC-SHA256"):
        return Principal(None, None, None)
    for part in header[len("AWS4-HMAC-SHA256") :].split(","):
        key, _, value = part.strip().partition("=")
        if key == "Credential":
            scope = value.split("/")
            if len(scope) >= 5:
                return Principal(scope[0] or None, scope[2] or None, scope[3] or None)
            return Principal(scope[0] or None, None, None)
    return Principal(None, None, None)


class Authenticator(Protocol):
    """Decides whether a request's signature is acceptable."""

    def verify(self, request: AuthRequest) -> Principal:
        """Return the principal, or raise a ServiceError to reject the request."""
        ...
