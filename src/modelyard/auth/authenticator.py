"""The two authenticators the server runs with: SigV4 verification (auth on) and ``--auth off``.

Both check that the region is a real AWS region. ``SigV4Authenticator`` also finds the key, checks
the scope, the clock and the signature, and the key's action patterns; the key's account becomes the
request's account.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from modelyard.auth import sigv4
from modelyard.auth.errors import ACCESS_DENIED, INVALID_SIGNATURE, UNRECOGNIZED_CLIENT, AuthFailure
from modelyard.auth.errors import INVALID_TOKEN as INVALID_TOKEN_MESSAGE
from modelyard.auth.keys import AccessKey, KeyRing
from modelyard.auth.policy import allows
from modelyard.auth.regions import is_region
from modelyard.wire.auth import AuthRequest, AuthRules, PayloadSigning, Principal, parse_authorization
from modelyard.wire.errors import ServiceError


class SigV4Authenticator:
    """Verifies AWS Signature Version 4 (header or query-string) against the stored access keys."""

    def __init__(self, keys: KeyRing, clock: Callable[[], float] = time.time) -> None:
        self.keys = keys
        self.clock = clock
        self.signing_keys = sigv4.SigningKeys()
        self._payload_rules: dict[int, tuple[AuthRules, sigv4.PayloadRules]] = {}

    def verify(self, request: AuthRequest) -> Principal:
        """The principal of a correctly signed request by a known key allowed the action."""
        try:
            key, signature, secret = self._authenticate(request)
        except AuthFailure as failure:
            raise failure.as_service_error(request.rules.error_status) from None
        if not allows(key.allow, request.action):
            raise AuthFailure(ACCESS_DENIED, f"User: {key.user_arn} is not authorized to perform: {request.action} "
                              "because no identity-based policy allows the "
                              f"{request.action} action").as_service_error(403)
        payload = None
        if request.rules.unsigned_payload or request.rules.streaming_payload:
            payload = PayloadSigning(request.headers.get("x-amz-content-sha256"), signature.signature,
                                     self.signing_keys.key(secret, signature.date, signature.region, signature.service),
                                     signature.scope, signature.timestamp)
        return Principal(key.access_key_id, signature.region, request.rules.signing_name, key.account, payload)

    def _authenticate(self, request: AuthRequest) -> tuple[AccessKey, sigv4.Signature, str]:
        signed = request
        signature = sigv4.parse(signed)
        found = self.keys.lookup(signature.access_key)
        if found is None or signature.session_token is not None:
            raise AuthFailure(UNRECOGNIZED_CLIENT, INVALID_TOKEN_MESSAGE)
        key, secret = found
        sigv4.check_scope(signature, request.rules.signing_name, is_region(signature.region))
        sigv4.check_time(signature, self.clock())
        sigv4.verify(signed, signature, secret, self.signing_keys, self._payload(request.rules))
        return key, signature, secret

    def _payload(self, rules: AuthRules) -> sigv4.PayloadRules:
        """The service's payload rules, made once per ``AuthRules`` object (a frozen dataclass costs a
        microsecond to build, and as much to hash)."""
        found = self._payload_rules.get(id(rules))
        if found is None or found[0] is not rules:
            found = rules, sigv4.PayloadRules(rules.unsigned_payload, rules.streaming_payload,
                                              rules.deferred_payload, rules.uri_as_sent)
            if len(self._payload_rules) >= 64:
                self._payload_rules.clear()
            self._payload_rules[id(rules)] = found
        return found[1]


class AnyCredentials:
    """``--auth off``: any signature or none, as moto and LocalStack; the region must still be real."""

    def verify(self, request: AuthRequest) -> Principal:
        """The principal named by the Authorization header, unchecked but for its region."""
        header = request.headers.get("authorization")
        principal = parse_authorization(header)
        if principal.region is not None and not is_region(principal.region):
            raise _bad_region(request.rules.error_status)
        rules = request.rules
        declared = request.headers.get("x-amz-content-sha256")
        if declared is not None:
            try:
                sigv4.check_payload_marker(declared, sigv4.PayloadRules(rules.unsigned_payload,
                                                                        rules.streaming_payload))
            except AuthFailure as failure:
                raise failure.as_service_error(rules.error_status) from None
        if rules.unsigned_payload or rules.streaming_payload:
            seed = header.rpartition("Signature=")[2].strip() if header else ""
            return replace(principal, payload=PayloadSigning(declared, seed, None, "", ""))
        return principal


def _bad_region(status: int) -> ServiceError:
    return AuthFailure(INVALID_SIGNATURE, "Credential should be scoped to a valid region. ").as_service_error(status)
