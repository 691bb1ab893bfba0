"""What decoding an aws-chunked upload costs: MB/s of payload through ``AwsChunkedDecoder``.

    .venv/bin/python bench/aws_chunked.py [--megabytes 64] [--piece 65536] [--json]

Three bodies of the same random payload in 1 MiB chunks, fed in ``--piece``-byte reads as a server
receives them: STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer (botocore's uploads),
STREAMING-AWS4-HMAC-SHA256-PAYLOAD (one SHA-256 and one HMAC per chunk) and the same signed body with
a CRC32C trailer. The baseline is ``hashlib.sha256`` over the payload in the same pieces (a plain
signed upload's cost), so the ratio says what the chunked framing adds.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable

from modelyard.wire import aws_chunked
from modelyard.wire.auth import PayloadSigning
from modelyard.wire.aws_chunked import AwsChunkedDecoder
from modelyard.wire.checksums import RunningChecksum

CHUNK = 1024 * 1024
KEY = hashlib.sha256(b"bench signing key").digest()
SEED = "0" * 64
SCOPE = "20261130/us-east-1/s3/aws4_request"
TIMESTAMP = "20261130T000000Z"


def unsigned_body(data: bytes) -> bytes:
    """``STREAMING-UNSIGNED-PAYLOAD-TRAILER`` with a CRC32 trailer, as botocore frames it."""
    crc = RunningChecksum("crc32")
    crc.update(data)
    chunks = [b"%x\r\n%s\r\n" % (len(data[i:i + CHUNK]), data[i:i + CHUNK]) for i in range(0, len(data), CHUNK)]
    return b"".join(chunks) + b"0\r\nx-amz-checksum-crc32:" + crc.b64digest().encode() + b"\r\n\r\n"


def signed_body(data: bytes, trailer: str | None) -> bytes:
    """Signed chunks (and a signed CRC32C trailer when ``trailer``), as AWS's sigv4-streaming describes."""
    previous, parts = SEED, []
    for start in range(0, len(data) + 1, CHUNK):
        piece = data[start:start + CHUNK]
        to_sign = "\n".join(("AWS4-HMAC-SHA256-PAYLOAD", TIMESTAMP, SCOPE, previous,
                             hashlib.sha256(b"").hexdigest(), hashlib.sha256(piece).hexdigest()))
        previous = hmac.digest(KEY, to_sign.encode(), "sha256").hex()
        parts.append(b"%x;chunk-signature=%s\r\n%s" % (len(piece), previous.encode(), piece))
        parts.append(b"\r\n" if piece else b"")
    if trailer is None:
        return b"".join(parts) + b"\r\n"
    crc = RunningChecksum("crc32c")
    crc.update(data)
    line = f"{trailer}:{crc.b64digest()}"
    to_sign = "\n".join(("AWS4-HMAC-SHA256-TRAILER", TIMESTAMP, SCOPE, previous,
                         hashlib.sha256(f"{line}\n".encode()).hexdigest()))
    signature = hmac.digest(KEY, to_sign.encode(), "sha256").hex()
    return b"".join(parts) + f"{line}\r\nx-amz-trailer-signature:{signature}\r\n\r\n".encode()


def timed(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def decode(body: bytes, decoder: AwsChunkedDecoder, piece: int, size: int) -> None:
    total = 0
    for start in range(0, len(body), piece):
        total += len(decoder.feed(body[start:start + piece]))
    decoder.finish()
    assert total == size


def main() -> None:
    """Print MB/s per body kind and its ratio to a plain SHA-256 pass."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=int, default=64)
    parser.add_argument("--piece", type=int, default=65536)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    size = args.megabytes * 1024 * 1024
    data = os.urandom(size)
    signing = PayloadSigning(aws_chunked.SIGNED, SEED, KEY, SCOPE, TIMESTAMP)

    def baseline() -> None:
        digest = hashlib.sha256()
        for start in range(0, size, args.piece):
            digest.update(data[start:start + args.piece])

    cases: dict[str, tuple[bytes, Callable[[], AwsChunkedDecoder]]] = {
        "unsigned + crc32 trailer": (unsigned_body(data), lambda: AwsChunkedDecoder(
            aws_chunked.UNSIGNED_TRAILER, decoded_length=size, trailer="x-amz-checksum-crc32")),
        "signed chunks": (signed_body(data, None), lambda: AwsChunkedDecoder(
            aws_chunked.SIGNED, signing, decoded_length=size)),
        "signed + crc32c trailer": (signed_body(data, "x-amz-checksum-crc32c"), lambda: AwsChunkedDecoder(
            aws_chunked.SIGNED_TRAILER, signing, decoded_length=size, trailer="x-amz-checksum-crc32c")),
    }
    base = min(timed(baseline) for _ in range(3))
    results = {"sha256 baseline": size / base / 1e6}
    for name, (body, make) in cases.items():
        results[name] = size / min(timed(functools.partial(decode, body, make(), args.piece, size))
                                   for _ in range(3)) / 1e6
    if args.json:
        print(json.dumps({"megabytes": args.megabytes, "piece": args.piece, "mb_per_s": results}))
        return
    for name, rate in results.items():
        print(f"{name:26s} {rate:8.0f} MB/s   {rate / results['sha256 baseline']:.2f} x sha256")


if __name__ == "__main__":
    main()
