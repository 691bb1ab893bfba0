"""The ordered request pipeline (see ``modelyard.edge``): route, body, auth, context, decode,
dispatch, encode, with one request-id scheme and the catch-all outermost."""

from __future__ import annotations

import logging
import os
import time
from urllib.parse import quote

from modelyard.context import AppState, RequestContext
from modelyard.edge.regions import check_region
from modelyard.edge.services import OperationHandler, Service, ServiceTable, unrouted
from modelyard.wire import json_protocol
from modelyard.wire.asgi import BodyTooLarge, ClientDisconnected, Receive, Scope, read_body
from modelyard.wire.auth import Authenticator, AuthRequest, AuthRules, Principal
from modelyard.wire.errors import ServiceError
from modelyard.wire.protocol import HttpRequest, NamedInBody, OperationCall, Response
from modelyard.wire.streams import STREAMED_BODY, RequestStream

log = logging.getLogger("modelyard.server")


def http_request(scope: Scope) -> HttpRequest:
    """The request line and headers of an ASGI HTTP scope (ASGI header names are lower-case). A header
    sent more than once becomes one: its values trimmed and joined with ``,`` in the order sent, as
    SigV4's canonical request joins them."""
    raw = scope["headers"]
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}
    if len(headers) != len(raw):
        headers = _joined(raw)
    return HttpRequest(scope["method"], scope["path"], scope.get("query_string", b""), headers,
                       scope.get("raw_path") or b"")


_ID_BATCH = 256


class RequestIds:
    """Random (version 4) UUID strings, like ``str(uuid.uuid4())``, from one ``os.urandom`` read per
    ``_ID_BATCH`` ids instead of one per request."""

    def __init__(self) -> None:
        self._pool = b""
        self._next = 0

    def __call__(self) -> str:
        """The next request id."""
        start = self._next
        if start >= len(self._pool):
            self._pool, start = os.urandom(16 * _ID_BATCH), 0
        self._next = start + 16
        raw = bytearray(self._pool[start:start + 16])
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        text = raw.hex()
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _joined(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    values: dict[str, list[str]] = {}
    for name, value in raw:
        values.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
    return {name: parts[0] if len(parts) == 1 else ",".join(" ".join(part.split()) for part in parts)
            for name, parts in values.items()}


class Pipeline:
    """Serves one HTTP request of any registered service and returns the complete response."""

    def __init__(self, services: ServiceTable, authenticator: Authenticator, state: AppState) -> None:
        self.services = services
        self.authenticator = authenticator
        self.state = state
        self.account = state.settings.account_id
        self.default_region = state.settings.default_region
        self.request_id = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive) -> Response:
        """The response to one request; never raises."""
        request_id = self.request_id()
        started = time.perf_counter()
        request = http_request(scope)
        service = self.services.find(request)
        if service is None:
            status, headers, body = json_protocol.encode_error(unrouted(request), request_id)
        else:
            status, headers, body = await self._guarded(service, request, receive, request_id)
        headers.append((b"server-timing", f"app;dur={(time.perf_counter() - started) * 1000:.3f}".encode()))
        return status, headers, body

    async def read(self, service: Service, request: HttpRequest, body: bytes) -> Response:
        """The response to a request of ``service`` whose body the edge already read whole (at most the
        service's body limit; not a streamed operation): the same steps as ``__call__``; never raises."""
        request_id = self.request_id()
        started = time.perf_counter()
        try:
            status, headers, answer = await self._serve_read(service, service.protocol.operation(request), request,
                                                             body, request_id)
        except ServiceError as error:
            status, headers, answer = service.protocol.encode_error(error, request_id)
        except Exception:
            log.exception("internal failure in %s request %s", service.name, request_id)
            status, headers, answer = service.protocol.encode_error(service.internal_error(request_id), request_id)
        headers.append((b"server-timing", f"app;dur={(time.perf_counter() - started) * 1000:.3f}".encode()))
        return status, headers, answer

    async def _guarded(self, service: Service, request: HttpRequest, receive: Receive, request_id: str) -> Response:
        try:
            return await self._serve(service, request, receive, request_id)
        except ServiceError as error:
            return service.protocol.encode_error(error, request_id)
        except ClientDisconnected:
            return 400, [], b""
        except Exception:
            log.exception("internal failure in %s request %s", service.name, request_id)
            return service.protocol.encode_error(service.internal_error(request_id), request_id)

    async def _serve(self, service: Service, request: HttpRequest, receive: Receive, request_id: str) -> Response:
        call = service.protocol.operation(request)
        if call.name in service.streamed:
            return await self._serve_streamed(service, call, request, receive, request_id)
        return await self._serve_read(service, call, request, await _read(service, receive), request_id)

    async def _serve_read(self, service: Service, call: OperationCall, request: HttpRequest, body: bytes,
                          request_id: str) -> Response:
        if isinstance(call, NamedInBody):
            call = call.named(body)
        ctx = self._context(service.auth_rules, call.name, request, body, request_id)
        gate = service.gate
        if gate is None:
            params = call.decode(request, body)
            return call.encode(await _handler(service, call)(ctx, params), request_id)
        async with gate.admitted():
            params = await gate.offload(len(body), call.decode, request, body)
            return call.encode(await _handler(service, call)(ctx, params), request_id)

    def _context(self, rules: AuthRules, name: str, request: HttpRequest, body: bytes,
                 request_id: str) -> RequestContext:
        return self._authenticated(rules, name, request, body, request_id)[0]

    def _authenticated(self, rules: AuthRules, name: str, request: HttpRequest, body: bytes,
                       request_id: str) -> tuple[RequestContext, Principal]:
        principal = self.authenticator.verify(AuthRequest(
            request.method, path_as_sent(request), request.query_string.decode("latin-1"), request.headers, body,
            rules, f"{rules.iam_prefix}:{name}"))
        return RequestContext(account=principal.account or self.account,
                              region=check_region(principal.region or self.default_region),
                              request_id=request_id, app=self.state, operation=name,
                              access_key=principal.access_key), principal

    async def _serve_streamed(self, service: Service, call: OperationCall, request: HttpRequest,
                              receive: Receive, request_id: str) -> Response:
        """Authenticate on the headers, then hand the handler the body as a stream (through the
        service's ``body_transform``, when it makes one for this request: the ``aws-chunked`` decoder).
        A response sent before the body was read whole closes the connection (the client may still be
        sending it)."""
        stream = RequestStream(receive, service.stream_limit, request.headers)
        try:
            ctx, principal = self._authenticated(service.streamed_auth_rules, call.name, request, b"", request_id)
            if service.body_transform is not None:
                stream.transform = service.body_transform(request, principal)
            params = call.decode(request, b"")
            params[STREAMED_BODY] = stream
            status, headers, body = call.encode(await _handler(service, call)(ctx, params), request_id)
        except ServiceError as error:
            status, headers, body = service.protocol.encode_error(error, request_id)
        except BodyTooLarge as exc:
            status, headers, body = service.protocol.encode_error(
                service.too_large(exc.args[0], service.stream_limit), request_id)
        if not stream.complete:
            headers.append((b"connection", b"close"))
        return status, headers, body


def _handler(service: Service, call: OperationCall) -> OperationHandler:
    """The operation's handler (awaited by the caller itself: no coroutine of its own on the hot path)."""
    handler = service.operations.get(call.name)
    if handler is None:
        raise service.not_implemented(service.name, call.name)
    return handler


def path_as_sent(request: HttpRequest) -> str:
    """The request path as sent (percent-encoded), which signatures are computed over."""
    raw = request.raw_path
    return raw.decode("latin-1") if raw else quote(request.path, safe="/~!$&'()*+,;=:@")


async def _read(service: Service, receive: Receive) -> bytes:
    try:
        return await read_body(receive, service.body_limit)
    except BodyTooLarge as exc:
        raise service.too_large(exc.args[0], service.body_limit) from None
