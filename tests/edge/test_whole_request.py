"""``edge.whole_request``: the strict subset of HTTP/1.1 taken without the parser, and everything it leaves
to the parser (smuggling shapes, folding, stray bytes, requests cut short or followed by another)."""

from __future__ import annotations

import pytest

from modelyard.edge.whole_request import take_whole

LIMIT = 16384


def request(*fields: bytes, body: bytes = b"1,2,3", line: bytes = b"POST /endpoints/my-ep-1/invocations HTTP/1.1",
            length: bool = True) -> bytes:
    """A request with ``fields`` after Host (and a right Content-Length unless ``length`` is False)."""
    head = [line, b"Host: 127.0.0.1:8080", *fields]
    if length:
        head.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def test_a_botocore_shaped_request_is_taken_with_its_headers_and_body() -> None:
    data = request(b"Content-Type: text/csv", b"Accept: application/json",
                   b"User-Agent: Boto3/1.35.0 md/Botocore#1.35.0 os/linux#6.1",
                   b"X-Amz-Date: 20261201T000000Z", b"X-Amzn-SageMaker-Custom-Attributes:  a=1; b=\"two\"",
                   b"Authorization: AWS4-HMAC-SHA256 Credential=x/20261201/us-east-1/sagemaker/aws4_request, "
                   b"SignedHeaders=host;x-amz-date, Signature=00ff")
    whole = take_whole(data, LIMIT)
    assert whole is not None
    assert whole.path == "/endpoints/my-ep-1/invocations"
    assert whole.body == b"1,2,3"
    assert whole.headers["content-type"] == "text/csv"
    assert whole.headers["x-amzn-sagemaker-custom-attributes"] == 'a=1; b="two"'
    assert whole.headers["content-length"] == "5"
    assert list(whole.headers)[0] == "host"


def test_empty_bodies_and_empty_values_are_taken() -> None:
    whole = take_whole(request(b"X-Empty:", body=b""), LIMIT)
    assert whole is not None and whole.body == b"" and whole.headers["x-empty"] == ""


@pytest.mark.parametrize("data", [
    pytest.param(request(line=b"POST /endpoints/e/invocations HTTP/1.0"), id="http/1.0"),
    pytest.param(request(line=b"GET /endpoints/e/invocations HTTP/1.1"), id="get"),
    pytest.param(request(line=b"post /endpoints/e/invocations HTTP/1.1"), id="lower-case-method"),
    pytest.param(request(line=b"POST /endpoints/e/invocations?x=1 HTTP/1.1"), id="query"),
    pytest.param(request(line=b"POST /endpoints/e%41/invocations HTTP/1.1"), id="percent-encoded"),
    pytest.param(request(line=b"POST /endpoints/a/b/invocations HTTP/1.1"), id="extra-segment"),
    pytest.param(request(line=b"POST /endpoints//invocations HTTP/1.1"), id="empty-name"),
    pytest.param(request(line=b"POST /endpoints/" + b"e" * 64 + b"/invocations HTTP/1.1"), id="name-too-long"),
    pytest.param(request(line=b"POST  /endpoints/e/invocations HTTP/1.1"), id="double-space"),
    pytest.param(request(line=b"POST http://h/endpoints/e/invocations HTTP/1.1"), id="absolute-form"),
    pytest.param(request(b"Transfer-Encoding: chunked"), id="cl-and-te"),
    pytest.param(request(b"Transfer-Encoding: chunked", length=False), id="te"),
    pytest.param(request(b"Content-Length: 5"), id="duplicate-cl"),
    pytest.param(request(b"content-length: 5"), id="duplicate-cl-other-case"),
    pytest.param(request(b"X-A: 1", b"x-a: 2"), id="duplicate-header"),
    pytest.param(request(b"Connection: close"), id="connection"),
    pytest.param(request(b"Expect: 100-continue"), id="expect"),
    pytest.param(request(b"Upgrade: websocket"), id="upgrade"),
    pytest.param(request(length=False), id="no-length"),
    pytest.param(request(b"Content-Length: +5", length=False), id="signed-length"),
    pytest.param(request(b"Content-Length: 0x5", length=False), id="hex-length"),
    pytest.param(request(b"Content-Length: 5 ", length=False), id="length-trailing-space"),
    pytest.param(request(b"Content-Length: 5, 5", length=False), id="length-list"),
    pytest.param(request(b"Content-Length: \xd9\xa5", length=False), id="non-ascii-digit"),
    pytest.param(request(b"X-A: 1", b" folded"), id="obs-fold"),
    pytest.param(request(b"X-A: 1", b"\tfolded"), id="obs-fold-tab"),
    pytest.param(request(b"X-A: 1 "), id="trailing-space"),
    pytest.param(request(b"X-A: 1\t"), id="trailing-tab"),
    pytest.param(request(b"X-A: a\rb"), id="bare-cr"),
    pytest.param(request(b"X-A: a\nX-B: b"), id="bare-lf"),
    pytest.param(request(b"X-A: a\x00b"), id="nul"),
    pytest.param(request(b"X-A: a\x7fb"), id="del"),
    pytest.param(request(b"X-A: caf\xc3\xa9"), id="obs-text"),
    pytest.param(request(b"X-A : 1"), id="space-before-colon"),
    pytest.param(request(b": 1"), id="empty-name"),
    pytest.param(request(b"X(A): 1"), id="separator-in-name"),
    pytest.param(request(b"no colon"), id="no-colon"),
    pytest.param(request(body=b"1,2,3").replace(b"Content-Length: 5", b"Content-Length: 6"), id="body-cut-short"),
    pytest.param(request(body=b"1,2,3") + b"POST", id="bytes-after-the-body"),
    pytest.param(request() + request(), id="two-requests"),
    pytest.param(request().replace(b"\r\n\r\n", b"\r\n"), id="unfinished-head"),
    pytest.param(request().replace(b"\r\n", b"\n"), id="lf-only"),
])
def test_anything_outside_the_subset_is_left_to_the_parser(data: bytes) -> None:
    assert take_whole(data, LIMIT) is None


def test_a_head_over_the_limit_is_left_to_the_parser() -> None:
    data = request(b"X-Big: " + b"b" * 300)
    head = data.index(b"\r\n\r\n")
    assert take_whole(data, head) is not None
    assert take_whole(data, head - 1) is None
