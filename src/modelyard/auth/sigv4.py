"""AWS Signature Version 4, checked the way AWS checks it.

    AWS4-HMAC-SHA256 Credential=AKID/20261130/us-east-1/sagemaker/aws4_request,
                     SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=<64 hex>
    (or the same as X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
    X-Amz-Signature query parameters: a presigned request)

``parse`` reads the signature's parts, ``check_scope`` and ``check_time`` the credential scope and the
clock, and ``verify`` rebuilds the canonical request (method, URI-encoded path, sorted canonical query,
signed headers lower-cased and trimmed, payload hash) and compares in constant time. The payload hash
is the ``x-amz-content-sha256`` header when present (which must then match the body, unless a
service's ``PayloadRules`` accept ``UNSIGNED-PAYLOAD`` or a streaming signature), else the body's
SHA-256.
"""

from __future__ import annotations

import calendar
import email.utils
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from hashlib import sha256
from typing import Protocol
from urllib.parse import quote, unquote, unquote_to_bytes

from modelyard.auth.errors import INCOMPLETE, INVALID_SIGNATURE, MISSING_TOKEN, SIGNATURE_MISMATCH, AuthFailure
from modelyard.wire.aws_chunked import STREAMING_MODES

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_SKEW_SECONDS = 15 * 60
MAX_EXPIRES_SECONDS = 7 * 24 * 3600
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_USUAL_PREFIX = f"{ALGORITHM} Credential="
_BLOCK = 64
_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))
_QUERY_AUTH = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature")


class Signable(Protocol):
    """An HTTP request as it arrived: ``raw_path`` and ``query`` still percent-encoded, header names
    lower-case (repeated headers joined with ``,``). ``wire.auth.AuthRequest`` is one."""

    @property
    def method(self) -> str: ...
    @property
    def raw_path(self) -> str: ...
    @property
    def query(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def body(self) -> bytes: ...


@dataclass(slots=True)
class SignedRequest:
    """A ``Signable`` request on its own (tests, tools)."""

    method: str
    raw_path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class PayloadRules:
    """Which non-hash payload markers a service accepts in ``x-amz-content-sha256`` (S3 accepts both)."""

    unsigned: bool = False
    streaming: bool = False
    deferred: bool = False
    """A hex hash is taken as declared: the body is streamed after authentication and checked by its reader."""
    uri_as_sent: bool = False
    """S3: the canonical URI is the path as sent."""


@dataclass(slots=True)
class Signature:
    """The parts of a request's signature; read-only by convention (a frozen dataclass costs a
    microsecond more on every request)."""

    access_key: str
    date: str
    region: str
    service: str
    terminator: str
    scope: str
    """The credential scope: date/region/service/aws4_request."""
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    presigned: bool
    expires: int | None
    session_token: str | None


def parse(request: Signable) -> Signature:
    """The request's signature; ``MissingAuthenticationToken`` when it has none, ``IncompleteSignature``
    when a part is missing or malformed."""
    header = request.headers.get("authorization")
    if header is not None:
        return _parse_header(header, request.headers)
    if "X-Amz-" in request.query:
        params = _query_params(request.query)
        if "X-Amz-Algorithm" in params or "X-Amz-Signature" in params:
            return _parse_query(params)
    raise AuthFailure(MISSING_TOKEN, "Missing Authentication Token")


def _parse_header(header: str, headers: Mapping[str, str]) -> Signature:
    timestamp = headers.get("x-amz-date")
    if timestamp and header.startswith(_USUAL_PREFIX):
        usual = header[len(_USUAL_PREFIX):].split(", ")
        if len(usual) == 3 and usual[1].startswith("SignedHeaders=") and usual[2].startswith("Signature="):
            return _signature(usual[0], usual[1][14:], usual[2][10:], timestamp, False, None,
                              headers.get("x-amz-security-token"))
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise AuthFailure(INCOMPLETE, f"Unsupported authorization algorithm '{algorithm[:40]}' "
                          f"(only {ALGORITHM} is accepted). Authorization={header[:80]}")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, eq, value = item.strip().partition("=")
        if eq:
            parts[key] = value
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not parts.get(name)]
    timestamp = headers.get("x-amz-date") or _from_http_date(headers.get("date"))
    if missing or not timestamp:
        reasons = [f"Authorization header requires '{name}' parameter." for name in missing]
        if not timestamp:
            reasons.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        raise AuthFailure(INCOMPLETE, " ".join(reasons) + f" Authorization={header[:200]}")
    return _signature(parts["Credential"], parts["SignedHeaders"], parts["Signature"], timestamp, False, None,
                      headers.get("x-amz-security-token"))


def _parse_query(params: Mapping[str, str]) -> Signature:
    missing = [name for name in _QUERY_AUTH if not params.get(name)]
    if missing:
        raise AuthFailure(INCOMPLETE, "AWS query-string parameters must include " +
                          ", ".join(f"'{name}'" for name in missing) + ". Re-examine the query-string parameters.")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise AuthFailure(INCOMPLETE, f"Unsupported X-Amz-Algorithm '{params['X-Amz-Algorithm'][:40]}'")
    raw_expires = params.get("X-Amz-Expires", "")
    if not raw_expires.isdigit() or not 0 < int(raw_expires) <= MAX_EXPIRES_SECONDS:
        raise AuthFailure(INCOMPLETE, f"X-Amz-Expires must be a whole number of seconds from 1 to "
                          f"{MAX_EXPIRES_SECONDS}, not '{raw_expires[:20]}'")
    return _signature(params["X-Amz-Credential"], params["X-Amz-SignedHeaders"], params["X-Amz-Signature"],
                      params["X-Amz-Date"], True, int(raw_expires), params.get("X-Amz-Security-Token"))


def _signature(credential: str, signed_headers: str, signature: str, timestamp: str, presigned: bool,
               expires: int | None, token: str | None) -> Signature:
    scope = _scope(credential)
    if scope is None:
        raise AuthFailure(INCOMPLETE, f"Credential must have exactly 5 slash-delimited elements, e.g. "
                          f"keyid/date/region/service/term, got '{credential[:200]}'")
    if _epoch(timestamp) is None:
        raise AuthFailure(INCOMPLETE, f"Date must be in ISO-8601 'basic format'. Got '{timestamp[:40]}'. See "
                          "http://en.wikipedia.org/wiki/ISO_8601")
    return Signature(*scope, _names(signed_headers), signature, timestamp, presigned, expires, token)


@lru_cache(maxsize=1024)
def _scope(credential: str) -> tuple[str, str, str, str, str, str] | None:
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts):
        return None
    return parts[0], parts[1], parts[2], parts[3], parts[4], credential[len(parts[0]) + 1:]


@lru_cache(maxsize=1024)
def _names(signed_headers: str) -> tuple[str, ...]:
    return tuple(signed_headers.split(";"))


def check_scope(signature: Signature, service: str, region_ok: bool) -> None:
    """The scope names this service, a real region, the request's date and the AWS4 terminator."""
    if signature.terminator != TERMINATOR:
        raise AuthFailure(INVALID_SIGNATURE, f"Credential should be scoped with a valid terminator: "
                          f"'{TERMINATOR}', not '{signature.terminator[:40]}'.")
    if signature.service != service:
        raise AuthFailure(INVALID_SIGNATURE, f"Credential should be scoped to correct service: '{service}'. ")
    if not region_ok:
        raise AuthFailure(INVALID_SIGNATURE, "Credential should be scoped to a valid region. ")
    if signature.date != signature.timestamp[:8]:
        raise AuthFailure(INVALID_SIGNATURE, "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                          f"version of date from HTTP: '{signature.date[:20]}' != '{signature.timestamp[:8]}', "
                          f"from '{signature.timestamp}'.")
    if "host" not in signature.signed_headers:
        raise AuthFailure(INVALID_SIGNATURE, "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                          "Authorization.")


def check_time(signature: Signature, now: float) -> None:
    """Within 15 minutes of the server's clock (a presigned request: before it expires)."""
    signed_at = _epoch(signature.timestamp)
    assert signed_at is not None
    if signature.expires is not None:
        if now > signed_at + signature.expires:
            raise AuthFailure(INVALID_SIGNATURE, f"Signature expired: {signature.timestamp} is now earlier than "
                              f"{_stamp(now - signature.expires)} ({_stamp(now)} - {signature.expires} sec.)")
        if signed_at > now + MAX_SKEW_SECONDS:
            raise _not_yet_current(signature, now)
        return
    if signed_at < now - MAX_SKEW_SECONDS:
        raise AuthFailure(INVALID_SIGNATURE, f"Signature expired: {signature.timestamp} is now earlier than "
                          f"{_stamp(now - MAX_SKEW_SECONDS)} ({_stamp(now)} - 15 min.)")
    if signed_at > now + MAX_SKEW_SECONDS:
        raise _not_yet_current(signature, now)


def _not_yet_current(signature: Signature, now: float) -> AuthFailure:
    return AuthFailure(INVALID_SIGNATURE, f"Signature not yet current: {signature.timestamp} is still later than "
                       f"{_stamp(now + MAX_SKEW_SECONDS)} ({_stamp(now)} + 15 min.)")


class SigningKey:
    """A derived signing key with HMAC-SHA256 under it prepared (RFC 2104): its two padded key blocks are
    hashed once, so a signature costs two copies of a hash state and the message's blocks, not a fresh
    OpenSSL HMAC context (2.4 µs under OpenSSL 3, where looking a digest up by name is slow)."""

    __slots__ = ("key", "_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        self.key = key
        block = (sha256(key).digest() if len(key) > _BLOCK else key).ljust(_BLOCK, b"\0")
        self._inner = sha256(block.translate(_IPAD))
        self._outer = sha256(block.translate(_OPAD))

    def hexdigest(self, message: bytes) -> str:
        """HMAC-SHA256 of ``message`` under the key, in lower-case hex."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


class SigningKeys:
    """Derived signing keys, cached per (secret, date, region, service): four HMACs once a day."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._keys: dict[tuple[str, str, str, str], SigningKey] = {}

    def key(self, secret: str, date: str, region: str, service: str) -> bytes:
        """``kSigning`` for the scope."""
        return self.signing_key(secret, date, region, service).key

    def signing_key(self, secret: str, date: str, region: str, service: str) -> SigningKey:
        """``kSigning`` for the scope, with HMAC under it prepared."""
        cache_key = (secret, date, region, service)
        found = self._keys.get(cache_key)
        if found is None:
            if len(self._keys) >= self.capacity:
                self._keys.clear()
            found = SigningKey(_hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), service),
                                     TERMINATOR))
            self._keys[cache_key] = found
        return found


def verify(request: Signable, signature: Signature, secret: str, keys: SigningKeys,
           rules: PayloadRules) -> None:
    """Raise ``InvalidSignatureException`` unless ``signature`` signs ``request`` with ``secret``."""
    canonical = canonical_request(request, signature, payload_hash(request, signature, rules), rules.uri_as_sent)
    to_sign = f"{ALGORITHM}\n{signature.timestamp}\n{signature.scope}\n{sha256(canonical.encode()).hexdigest()}"
    expected = keys.signing_key(secret, signature.date, signature.region, signature.service).hexdigest(to_sign.encode())
    provided = signature.signature
    if not provided.isascii() or not hmac.compare_digest(expected, provided):
        raise AuthFailure(INVALID_SIGNATURE, SIGNATURE_MISMATCH)


def check_payload_marker(declared: str | None, rules: PayloadRules) -> bool:
    """Whether ``x-amz-content-sha256`` is a marker the service accepts in place of the body's hash
    (then the body is checked after authentication: S3); False for a hash; a marker the service does
    not accept is refused with a 400 that says where it is accepted."""
    if declared is None or len(declared) == 64 and not declared.startswith("STREAMING-"):
        return False
    if declared == UNSIGNED_PAYLOAD:
        if rules.unsigned:
            return True
        raise AuthFailure(INVALID_SIGNATURE, "x-amz-content-sha256: UNSIGNED-PAYLOAD is accepted only by the S3 API; "
                          "sign this service's requests with the SHA-256 of the body.", status=400)
    if declared.startswith("STREAMING-"):
        if not rules.streaming:
            raise AuthFailure(INVALID_SIGNATURE, f"Streaming payloads (x-amz-content-sha256: {declared[:60]}, "
                              "Content-Encoding: aws-chunked) are accepted only by the S3 API; send this service the "
                              "whole body, signed with its SHA-256.", status=400)
        if declared in STREAMING_MODES:
            return True
        raise AuthFailure(INVALID_SIGNATURE, f"x-amz-content-sha256 '{declared[:60]}' is not supported (SigV4a and "
                          f"other streaming signatures are not); use one of {', '.join(sorted(STREAMING_MODES))}.",
                          status=400)
    return False


def payload_hash(request: Signable, signature: Signature, rules: PayloadRules) -> str:
    """The payload hash the canonical request ends with."""
    declared = request.headers.get("x-amz-content-sha256")
    if declared is None:
        if rules.unsigned and signature.presigned:
            return UNSIGNED_PAYLOAD
        if rules.deferred:
            raise AuthFailure(INVALID_SIGNATURE, "Missing required header for this request: x-amz-content-sha256")
        return sha256(request.body).hexdigest() if request.body else EMPTY_SHA256
    check_payload_marker(declared, rules)
    if declared == UNSIGNED_PAYLOAD and rules.unsigned:
        return declared
    if declared.startswith("STREAMING-") and rules.streaming:
        return declared
    if rules.deferred and len(declared) == 64:
        return declared
    if declared != sha256(request.body).hexdigest():
        raise AuthFailure(INVALID_SIGNATURE, "The provided 'x-amz-content-sha256' header does not match what was "
                          "computed.")
    return declared


def canonical_request(request: Signable, signature: Signature, payload: str, uri_as_sent: bool = False) -> str:
    """The canonical request AWS signs, for this request and the headers the signature names (S3 signs
    the path as sent: ``uri_as_sent``)."""
    values = request.headers
    names = signature.signed_headers
    lines = []
    for name in names:
        value = values.get(name, "")
        if "  " in value or "\t" in value or value[:1] == " " or value[-1:] == " ":
            value = " ".join(value.split())
        lines.append(f"{name}:{value}\n")
    path = (request.raw_path or "/") if uri_as_sent else canonical_uri(request.raw_path)
    query = canonical_query(request.query, signature.presigned) if request.query else ""
    return f"{request.method.upper()}\n{path}\n{query}\n{''.join(lines)}\n{';'.join(names)}\n{payload}"


@lru_cache(maxsize=4096)
def canonical_uri(raw_path: str) -> str:
    """The path with dot segments removed and URI-encoded once more (every service but S3)."""
    return quote(_remove_dot_segments(raw_path) or "/", safe="/~")


def canonical_query(query: str, presigned: bool) -> str:
    """Parameters encoded AWS's way and sorted by name, then value (without ``X-Amz-Signature``)."""
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        name, value = _encode(name), _encode(value)
        if presigned and name == "X-Amz-Signature":
            continue
        pairs.append((name, value))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _remove_dot_segments(path: str) -> str:
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    if not kept:
        return "/" if path.startswith("/") else ""
    lead = "/" if path.startswith("/") else ""
    tail = "/" if path.endswith("/") else ""
    return lead + "/".join(kept) + tail


def _query_params(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in query.split("&"):
        name, _, value = item.partition("=")
        params[unquote(name)] = unquote(value)
    return params


def _encode(part: str) -> str:
    return quote(unquote_to_bytes(part), safe="-_.~")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


@lru_cache(maxsize=1024)
def _epoch(timestamp: str) -> float | None:
    if len(timestamp) != 16 or timestamp[8] != "T" or timestamp[15] != "Z":
        return None
    digits = timestamp[:8] + timestamp[9:15]
    if not digits.isdigit() or not digits.isascii():
        return None
    year, month, day = int(digits[:4]), int(digits[4:6]), int(digits[6:8])
    hour, minute, second = int(digits[8:10]), int(digits[10:12]), int(digits[12:14])
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1] and hour < 24 and minute < 60
            and second < 61):
        return None
    return float(calendar.timegm((year, month, day, hour, minute, second)))


def _stamp(epoch: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def _from_http_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return _stamp(email.utils.parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
