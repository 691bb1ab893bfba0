"""Request authentication: who signed the request and for which region.

Signatures are parsed but not verified yet; ``Authenticator`` is the place a SigV4 verifier
plugs in (``verify`` raises a ``ServiceError`` to reject a request).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Principal:
    """The caller as named by the request's credential scope."""

    access_key: str | None
    region: str | None
    service: str | None


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

    def verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Principal:
        """Return the principal, or raise a ServiceError to reject the request."""
        ...


class UnverifiedAuthenticator:
    """Accepts any signature (or none), reading the principal from the header only."""

    def verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Principal:
        """Return the principal named by the Authorization header, unchecked."""
        return parse_authorization(headers.get("authorization"))
