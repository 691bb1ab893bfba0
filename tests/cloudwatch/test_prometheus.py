"""``GET /metrics``: the Prometheus text format of the caller's account, authenticated like every call."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from modelyard.edge.prometheus import PrometheusEndpoint, claims
from modelyard.settings import MetricsSettings, Settings
from modelyard.store.database import Database
from modelyard.wire.auth import AuthRequest, Principal
from modelyard.wire.errors import ServiceError
from tests.cloudwatch.conftest import eventually
from tests.conftest import client_for
from tests.support.server import ServerProcess, signed_headers


def _scrape(server: ServerProcess, signed: bool = True) -> tuple[int, str]:
    url = f"{server.url}/metrics"
    headers = signed_headers(server, "GET", url, b"", {}, service="monitoring") if signed else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_signed_scrape_shows_the_last_minute_with_dimensions_as_labels(any_server: ServerProcess,
                                                                       unique: str) -> None:
    cw = client_for(any_server, "cloudwatch")
    last_minute = (time.time() // 60 - 1) * 60 + 30
    cw.put_metric_data(Namespace=f"App/{unique}", MetricData=[
        {"MetricName": "Queue-Depth", "Dimensions": [{"Name": "Queue", "Value": unique}], "Timestamp": last_minute,
         "Values": [1.0, 2.0, 3.0], "Unit": "Count"}])

    def scraped() -> str | None:
        status, text = _scrape(any_server)
        assert status == 200, text
        return text if unique in text else None

    text = eventually(scraped)
    labels = f'namespace="App/{unique}",region="us-east-1",Queue="{unique}"'
    assert "# TYPE Queue_Depth gauge" in text
    assert f'Queue_Depth{{{labels},statistic="Sum"}} 6.0' in text
    assert f'Queue_Depth{{{labels},statistic="SampleCount"}} 3.0' in text
    assert f'Queue_Depth{{{labels},statistic="Maximum"}} 3.0' in text
    assert f'Queue_Depth{{{labels},statistic="p50"}}' in text


def test_unsigned_scrape_is_refused(server: ServerProcess) -> None:
    status, text = _scrape(server, signed=False)
    assert status == 403 and "MODELYARD_METRICS_OPEN_SCRAPE" in text


class _RefuseUnsigned:
    def verify(self, request: AuthRequest) -> Principal:
        raise ServiceError("unsigned")


@pytest.mark.parametrize(("client", "allowed"), [(("127.0.0.1", 5000), True), (("::1", 5000), True),
                                                 (("10.1.2.3", 5000), False), (None, False)])
def test_open_scrape_answers_unsigned_loopback_clients_only(tmp_path: Path, client: tuple[str, int] | None,
                                                            allowed: bool) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'db.sqlite'}")
    settings = Settings(data_dir=tmp_path, metrics=MetricsSettings(open_scrape=True))
    endpoint = PrometheusEndpoint(db, settings, _RefuseUnsigned())
    scope = {"type": "http", "method": "GET", "path": "/metrics", "headers": [], "query_string": b"",
             "client": client}
    status, _, body = asyncio.run(endpoint(scope))
    assert status == (200 if allowed else 403), body
    db.dispose()


def test_requests_signed_for_s3_are_s3s() -> None:
    s3_signed = [(b"authorization", b"AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/s3/aws4_request, "
                                    b"SignedHeaders=host, Signature=00")]
    assert not claims({"path": "/metrics", "method": "GET", "headers": s3_signed, "query_string": b""})
    assert claims({"path": "/metrics", "method": "GET", "headers": [], "query_string": b""})
    assert not claims({"path": "/metrics", "method": "PUT", "headers": [], "query_string": b""})
