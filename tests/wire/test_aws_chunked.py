"""aws-chunked bodies decoded and verified as S3 does: AWS's published signed examples, bodies made by
botocore's own S3 PutObject machinery, split anywhere, and every way such a body can be wrong.

The decoder is a pure function of bytes, so these are unit tests; the seed signature of AWS's
example goes through the real SigV4 verifier.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.config import Config

from modelyard.auth import sigv4
from modelyard.auth.errors import AuthFailure
from modelyard.wire import aws_chunked, checksums
from modelyard.wire.auth import PayloadSigning
from modelyard.wire.aws_chunked import AwsChunkedDecoder
from modelyard.wire.payload_errors import (
    BadDigest,
    IncompleteBody,
    InvalidChunkSizeError,
    InvalidRequest,
    MalformedTrailerError,
    MissingContentLength,
    PayloadError,
    SignatureDoesNotMatch,
)

# AWS's "Transferring Payload in Multiple Chunks" and "Including Trailing Headers" examples:
# 66,560 bytes of "a" in chunks of 65,536, 1,024 and 0 bytes, signed on 2013-05-24 in us-east-1.
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TIMESTAMP = "20130524T000000Z"
SCOPE = "20130524/us-east-1/s3/aws4_request"
DATA = b"a" * 66560
SIGNED_EXAMPLE = ("4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
                  ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                   "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                   "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"])
TRAILER_EXAMPLE = ("106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
                   ["b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
                    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
                    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"])
EXAMPLE_TRAILER = (b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
                   b"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n")


def signing_key() -> bytes:
    key = f"AWS4{SECRET}".encode()
    for part in ("20130524", "us-east-1", "s3", "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def example_signing(seed: str) -> PayloadSigning:
    return PayloadSigning(aws_chunked.SIGNED, seed, signing_key(), SCOPE, TIMESTAMP)


def example_body(signatures: list[str], trailer: bytes = b"") -> bytes:
    sizes = (65536, 1024, 0)
    body = b""
    offset = 0
    for size, signature in zip(sizes, signatures, strict=True):
        body += f"{size:x};chunk-signature={signature}\r\n".encode() + DATA[offset:offset + size]
        body += b"\r\n" if size else b""
        offset += size
    return body + trailer + b"\r\n"


def signed_decoder(**overrides: Any) -> AwsChunkedDecoder:
    seed = overrides.pop("seed", SIGNED_EXAMPLE[0])
    return AwsChunkedDecoder(aws_chunked.SIGNED, example_signing(seed), **{"decoded_length": 66560, **overrides})


def trailer_decoder(**overrides: Any) -> AwsChunkedDecoder:
    return AwsChunkedDecoder(aws_chunked.SIGNED_TRAILER, example_signing(TRAILER_EXAMPLE[0]),
                             **{"decoded_length": 66560, "trailer": "x-amz-checksum-crc32c", **overrides})


def decode(decoder: AwsChunkedDecoder, body: bytes, rng: random.Random | None = None,
           max_piece: int = 5000) -> tuple[bytes, dict[str, str]]:
    """Feed ``body`` in random pieces (1 byte up to ``max_piece``); the payload and the trailers."""
    rng = rng or random.Random(0)
    out = bytearray()
    pos = 0
    while pos < len(body):
        step = rng.randint(1, max_piece)
        out += decoder.feed(body[pos:pos + step])
        pos += step
        assert len(decoder._line) <= aws_chunked.MAX_LINE_BYTES + 1
    return bytes(out), decoder.finish()


def refused(decoder: AwsChunkedDecoder, body: bytes, seed: int = 0) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        decode(decoder, body, random.Random(seed))
    return caught.value


@pytest.mark.parametrize("seed", range(6))
def test_aws_signed_example_decodes_in_any_split(seed: int) -> None:
    body = example_body(SIGNED_EXAMPLE[1])
    assert len(body) == 66824
    assert decode(signed_decoder(), body, random.Random(seed), max_piece=[1, 3, 90, 5000, 70000, 10**6][seed]) == \
        (DATA, {})


@pytest.mark.parametrize("seed", range(4))
def test_aws_signed_trailer_example_decodes_in_any_split(seed: int) -> None:
    body = example_body(TRAILER_EXAMPLE[1], EXAMPLE_TRAILER)
    payload, trailers = decode(trailer_decoder(), body, random.Random(seed), max_piece=[2, 77, 9000, 10**6][seed])
    assert payload == DATA and trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}


def test_the_examples_seed_signature_verifies_as_a_streaming_request() -> None:
    """The seed (header) signature of AWS's example checks out with the streaming marker as payload hash,
    and a service that takes no streaming payloads says so instead of "does not match"."""
    headers = {"host": "s3.amazonaws.com", "x-amz-date": TIMESTAMP, "x-amz-storage-class": "REDUCED_REDUNDANCY",
               "x-amz-content-sha256": aws_chunked.SIGNED, "content-encoding": "aws-chunked",
               "content-length": "66824", "x-amz-decoded-content-length": "66560",
               "authorization": f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/{SCOPE}, "
                                "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                                f"x-amz-decoded-content-length;x-amz-storage-class, Signature={SIGNED_EXAMPLE[0]}"}
    request = sigv4.SignedRequest("PUT", "/examplebucket/chunkObject.txt", "", headers, example_body(SIGNED_EXAMPLE[1]))
    signature = sigv4.parse(request)
    sigv4.verify(request, signature, SECRET, sigv4.SigningKeys(), sigv4.PayloadRules(unsigned=True, streaming=True))
    with pytest.raises(AuthFailure) as caught:
        sigv4.verify(request, signature, SECRET, sigv4.SigningKeys(), sigv4.PayloadRules())
    assert caught.value.status == 400 and "accepted only by the S3 API" in caught.value.message


def test_a_tampered_chunk_is_refused_at_its_end() -> None:
    body = bytearray(example_body(SIGNED_EXAMPLE[1]))
    body[66000] = ord("b")
    decoder = signed_decoder()
    with pytest.raises(SignatureDoesNotMatch) as caught:
        decoder.feed(bytes(body[:65536 + 200]))
        decoder.feed(bytes(body[65536 + 200:]))
    assert caught.value.status == 403 and "chunk 2" in caught.value.message


@pytest.mark.parametrize("signature_index", [0, 1, 2])
def test_a_wrong_chunk_signature_is_refused(signature_index: int) -> None:
    signatures = list(SIGNED_EXAMPLE[1])
    signatures[signature_index] = "0" * 64
    assert isinstance(refused(signed_decoder(), example_body(signatures)), SignatureDoesNotMatch)


def test_another_seed_breaks_the_chain() -> None:
    err = refused(signed_decoder(seed="1" * 64), example_body(SIGNED_EXAMPLE[1]))
    assert isinstance(err, SignatureDoesNotMatch) and "chunk 1" in err.message


@pytest.mark.parametrize("tampered", [
    EXAMPLE_TRAILER.replace(b"sOO8/Q==", b"AAAAAA=="),
    EXAMPLE_TRAILER.replace(b":d81f", b":d81e"),
    EXAMPLE_TRAILER.replace(b"x-amz-trailer-signature:", b"x-amz-trailer-signature: 0"),
])
def test_a_tampered_signed_trailer_is_refused(tampered: bytes) -> None:
    err = refused(trailer_decoder(), example_body(TRAILER_EXAMPLE[1], tampered))
    assert isinstance(err, SignatureDoesNotMatch) and "trailing headers" in err.message


def test_a_signed_trailer_without_its_signature_is_malformed() -> None:
    err = refused(trailer_decoder(), example_body(TRAILER_EXAMPLE[1], b"x-amz-checksum-crc32c:sOO8/Q==\r\n"))
    assert isinstance(err, MalformedTrailerError)


@pytest.mark.parametrize("cut", [1, 50, 86, 87, 30000, 65625, 65626, 65627, 66700, 66821, 66822, 66823])
def test_a_truncated_body_is_incomplete(cut: int) -> None:
    body = example_body(SIGNED_EXAMPLE[1])
    decoder = signed_decoder()
    decoder.feed(body[:cut])
    with pytest.raises(IncompleteBody) as caught:
        decoder.finish()
    assert "terminated unexpectedly" in caught.value.message and caught.value.status == 400


@pytest.mark.parametrize("declared", [66559, 66561, 0, 10**12])
def test_a_wrong_decoded_length_is_refused(declared: int) -> None:
    err = refused(signed_decoder(decoded_length=declared), example_body(SIGNED_EXAMPLE[1]))
    assert isinstance(err, IncompleteBody) and "x-amz-decoded-content-length" in err.message


def test_bytes_after_the_end_are_refused() -> None:
    err = refused(signed_decoder(), example_body(SIGNED_EXAMPLE[1]) + b"0\r\n\r\n")
    assert isinstance(err, IncompleteBody) and "follow the end" in err.message


# Bodies made by botocore's own S3 client: flexible checksums send STREAMING-UNSIGNED-PAYLOAD-TRAILER.

class Captured(Exception):
    """Stops botocore right before sending, with the request it would have sent."""

    def __init__(self, request: AWSPreparedRequest) -> None:
        super().__init__("captured")
        self.request = request


def botocore_put(body: bytes, algorithm: str = "CRC32") -> tuple[dict[str, str], bytes]:
    """The headers and the encoded body botocore sends for an S3 PutObject with ``algorithm``."""
    s3 = boto3.client("s3", endpoint_url="https://s3.example.invalid", region_name="us-east-1",
                      aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key=SECRET,
                      config=Config(request_checksum_calculation="when_supported", s3={"addressing_style": "path"}))

    def capture(request: AWSPreparedRequest, **_: Any) -> None:
        raise Captured(request)

    s3.meta.events.register("before-send.s3.PutObject", capture)
    with pytest.raises(Captured) as caught:
        s3.put_object(Bucket="bucket", Key="key", Body=body, ChecksumAlgorithm=algorithm)
    request = caught.value.request
    raw = request.body
    encoded = raw if isinstance(raw, bytes) else raw.read()
    headers = {name.lower(): value.decode() if isinstance(value, bytes) else value
               for name, value in request.headers.items()}
    return headers, encoded


def unsigned_decoder(headers: dict[str, str]) -> AwsChunkedDecoder:
    return AwsChunkedDecoder.for_request(headers, PayloadSigning(headers["x-amz-content-sha256"], "", None, "", ""))


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA1", "SHA256"])
@pytest.mark.parametrize("size", [0, 1, 8191, 1024 * 1024, 3 * 1024 * 1024 + 17])
def test_botocore_put_object_bodies_decode(algorithm: str, size: int) -> None:
    data = random.Random(size).randbytes(size)
    headers, encoded = botocore_put(data, algorithm)
    assert headers["x-amz-content-sha256"] == aws_chunked.UNSIGNED_TRAILER
    assert aws_chunked.stored_content_encoding(headers["content-encoding"]) is None
    payload, trailers = decode(unsigned_decoder(headers), encoded, random.Random(size), max_piece=70000)
    name = f"x-amz-checksum-{algorithm.lower()}"
    assert payload == data and list(trailers) == [name]


def test_botocores_header_signature_verifies() -> None:
    headers, encoded = botocore_put(b"x" * 100)
    request = sigv4.SignedRequest("PUT", "/bucket/key", "", {**headers, "host": "s3.example.invalid"}, encoded)
    signature = sigv4.parse(request)
    sigv4.verify(request, signature, SECRET, sigv4.SigningKeys(), sigv4.PayloadRules(streaming=True))


def test_a_wrong_crc32_is_a_bad_digest() -> None:
    headers, encoded = botocore_put(b"hello world" * 1000)
    good = checksums.RunningChecksum("crc32")
    good.update(b"hello world" * 1000)
    forged = encoded.replace(good.b64digest().encode(), b"AAAAAA==")
    assert forged != encoded
    err = refused(unsigned_decoder(headers), forged)
    assert isinstance(err, BadDigest) and err.status == 400
    assert err.message == "The CRC32 you specified did not match the calculated checksum."


def test_changed_data_under_an_unsigned_trailer_is_a_bad_digest() -> None:
    headers, encoded = botocore_put(b"hello world" * 1000)
    err = refused(unsigned_decoder(headers), encoded.replace(b"hello", b"jello", 1))
    assert isinstance(err, BadDigest)


@pytest.mark.parametrize("value", [b"AAAA", b"not base64!", b"AAAAAAAAAAAA"])
def test_a_malformed_checksum_value_is_an_invalid_request(value: bytes) -> None:
    headers, encoded = botocore_put(b"abc")
    sent = encoded.split(b"x-amz-checksum-crc32:")[1].split(b"\r\n")[0]
    err = refused(unsigned_decoder(headers), encoded.replace(sent, value))
    assert isinstance(err, InvalidRequest)
    assert err.message == "Value for x-amz-checksum-crc32 trailing header is invalid."


def test_a_trailer_not_announced_is_malformed() -> None:
    headers, encoded = botocore_put(b"abc")
    err = refused(unsigned_decoder(headers), encoded.replace(b"x-amz-checksum-crc32:", b"x-amz-checksum-sha1:"))
    assert isinstance(err, MalformedTrailerError)
    err = refused(unsigned_decoder(headers), encoded.replace(b"\r\n\r\n", b"\r\nx-other:1\r\n\r\n"))
    assert isinstance(err, MalformedTrailerError)


def test_only_the_last_chunk_may_be_smaller_than_8_kib() -> None:
    decoder = AwsChunkedDecoder(aws_chunked.UNSIGNED_TRAILER, trailer="x-amz-checksum-crc32")
    decoder.feed(b"10\r\n" + b"x" * 16 + b"\r\n")
    with pytest.raises(InvalidChunkSizeError):
        decoder.feed(b"10\r\n")


@pytest.mark.parametrize("make, error", [
    (lambda: AwsChunkedDecoder.for_request({"x-amz-content-sha256": aws_chunked.UNSIGNED_TRAILER,
                                            "x-amz-trailer": "x-amz-checksum-crc32"}, None), MissingContentLength),
    (lambda: AwsChunkedDecoder(aws_chunked.UNSIGNED_TRAILER), InvalidRequest),
    (lambda: AwsChunkedDecoder(aws_chunked.UNSIGNED_TRAILER, trailer="x-amz-checksum-md5"), InvalidRequest),
    (lambda: AwsChunkedDecoder(aws_chunked.UNSIGNED_TRAILER, trailer="x-amz-meta-a"), InvalidRequest),
    (lambda: AwsChunkedDecoder("UNSIGNED-PAYLOAD"), InvalidRequest),
    (lambda: AwsChunkedDecoder.for_request({"x-amz-content-sha256": aws_chunked.SIGNED,
                                            "x-amz-decoded-content-length": "-1"}, None), InvalidRequest),
])
def test_headers_a_decoder_cannot_act_on(make: Callable[[], AwsChunkedDecoder], error: type[PayloadError]) -> None:
    with pytest.raises(error):
        make()


@pytest.mark.parametrize("body, words", [
    (b"zz;chunk-signature=" + b"0" * 64 + b"\r\n", "hexadecimal size"),
    (b"10000\r\n", "chunk-signature"),
    (b"1" * 5000, "longer than 4096"),
    (b"10000;chunk-signature=" + b"0" * 63 + b"g\r\n", "64 lower-case hex"),
])
def test_malformed_chunk_headers(body: bytes, words: str) -> None:
    decoder = signed_decoder()
    with pytest.raises(PayloadError) as caught:
        decoder.feed(body)
    assert words in caught.value.message


def test_memory_stays_bounded_with_a_huge_declared_chunk() -> None:
    decoder = AwsChunkedDecoder(aws_chunked.SIGNED, example_signing(SIGNED_EXAMPLE[0]))
    decoder.feed(b"ffffffffff;chunk-signature=" + b"0" * 64 + b"\r\n")
    for _ in range(20):
        assert len(decoder.feed(b"x" * 1_000_000)) == 1_000_000
        assert not decoder._line
    with pytest.raises(IncompleteBody):
        decoder.finish()


def test_auth_off_reads_signed_chunks_without_checking_them() -> None:
    signatures = ["0" * 64, "1" * 64, "2" * 64]
    decoder = AwsChunkedDecoder(aws_chunked.SIGNED, PayloadSigning(aws_chunked.SIGNED, "", None, "", ""),
                                decoded_length=66560)
    assert decode(decoder, example_body(signatures)) == (DATA, {})


@pytest.mark.parametrize("algorithm, check", [("crc32", 0xCBF43926), ("crc32c", 0xE3069283),
                                              ("crc64nvme", 0xAE8B14860A799888)])
def test_crc_check_values(algorithm: str, check: int) -> None:
    running = checksums.RunningChecksum(algorithm)
    running.update(b"12345")
    running.update(memoryview(b"6789"))
    assert int.from_bytes(running.digest(), "big") == check


def test_sha_checksums_match_hashlib() -> None:
    for algorithm in ("sha1", "sha256"):
        running = checksums.RunningChecksum(algorithm)
        running.update(b"abc")
        assert running.digest() == hashlib.new(algorithm, b"abc").digest()
    assert checksums.well_formed("crc32", "AAAAAA==") and not checksums.well_formed("crc64nvme", "AAAAAA==")


def test_content_encoding_without_aws_chunked() -> None:
    assert aws_chunked.stored_content_encoding("gzip,aws-chunked") == "gzip"
    assert aws_chunked.stored_content_encoding("aws-chunked") is None
    assert aws_chunked.stored_content_encoding(None) is None
    assert aws_chunked.is_streaming(aws_chunked.SIGNED) and not aws_chunked.is_streaming("UNSIGNED-PAYLOAD")
