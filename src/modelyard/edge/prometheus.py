"""``GET /metrics``: the caller's account's metrics in Prometheus' text format (``metrics.prometheus``).

Who may read: metrics belong to an account, so the request is authenticated like any call: SigV4
signed for service ``monitoring`` (action ``cloudwatch:GetMetricData``), and the signer's account is
shown. Prometheus cannot sign SigV4, so with ``MODELYARD_METRICS_OPEN_SCRAPE=on`` an unsigned scrape
is answered with the server's default account, but only from a loopback client (a scraper on the
same host, or behind a proxy there that does its own auth). With ``--auth off`` the server is open
anyway. A request signed for S3 is not ours: it is S3's ListObjects of a bucket named ``metrics``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time

from modelyard.metrics.prometheus import CONTENT_TYPE, render
from modelyard.settings import Settings
from modelyard.store import metrics as stored
from modelyard.store.database import Database
from modelyard.wire.asgi import Scope
from modelyard.wire.auth import Authenticator, AuthRequest, AuthRules, parse_authorization
from modelyard.wire.errors import ServiceError
from modelyard.wire.protocol import Response

METRICS_PATH = "/metrics"


class ScrapeRefused(ServiceError):
    """An unsigned scrape from a client that is not on loopback."""

    code = "AccessDeniedException"
    status = 403

RULES = AuthRules("monitoring", error_status=403)
ACTION = "cloudwatch:GetMetricData"


def claims(scope: Scope) -> bool:
    """A ``GET /metrics`` that is not signed for S3."""
    if scope["path"] != METRICS_PATH or scope["method"] not in ("GET", "HEAD"):
        return False
    headers = dict(scope["headers"])
    query = scope.get("query_string", b"")
    if b"X-Amz-Credential=" in query and b"%2Fs3%2F" in query:
        return False
    return parse_authorization(headers.get(b"authorization", b"").decode("latin-1")).service != "s3"


class PrometheusEndpoint:
    """Answers scrapes from the stored one-minute aggregates."""

    def __init__(self, db: Database, settings: Settings, authenticator: Authenticator) -> None:
        self.db = db
        self.settings = settings
        self.authenticator = authenticator

    async def __call__(self, scope: Scope) -> Response:
        """The exposition of the caller's account, or 403 in the plain text a scraper logs."""
        account = self._account(scope)
        if isinstance(account, ServiceError):
            return 403, [(b"content-type", b"text/plain; charset=utf-8")], (
                f"{account.code}: {account.message}\n".encode())
        minute = int(time.time() // 60) * 60 - 60
        text = await asyncio.to_thread(self._render, account, minute)
        return 200, [(b"content-type", CONTENT_TYPE.encode())], text.encode()

    def _render(self, account: str, minute: int) -> str:
        with self.db.session() as conn:
            return render(stored.points_of_minute(conn, account, minute))

    def _account(self, scope: Scope) -> str | ServiceError:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        signed = "authorization" in headers or b"X-Amz-Signature=" in scope.get("query_string", b"")
        if not signed and self.settings.metrics.open_scrape:
            if _loopback(scope):
                return self.settings.account_id
            return ScrapeRefused("Unsigned scrapes of /metrics are answered only from loopback clients; sign the "
                                "request (SigV4, service monitoring) or scrape from this host")
        raw = scope.get("raw_path") or scope["path"].encode()
        try:
            principal = self.authenticator.verify(AuthRequest(
                scope["method"], raw.decode("latin-1"), scope.get("query_string", b"").decode("latin-1"), headers,
                b"", RULES, ACTION))
        except ServiceError as error:
            if not signed:
                error.message += (" (/metrics is authenticated like every call: sign it with SigV4 for service "
                                  "monitoring, or set MODELYARD_METRICS_OPEN_SCRAPE=on to let loopback clients "
                                  "scrape unsigned)")
            return error
        return principal.account or self.settings.account_id


def _loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False
