"""A null S3 for bench/s3.py's ceiling row: just enough of S3 for boto3's transfer manager (create bucket,
put, multipart, head, ranged get), storing nothing, checking nothing, hashing nothing. Uploads are read
and dropped; downloads are zeros of the size last put. What boto3 reaches against it is the limit the
client itself (its SHA-256, CRC32, file reads, sockets) and the loopback set on this machine.

    .venv/bin/python bench/null_s3.py PORT      (uvicorn + httptools + uvloop, like modelyard)
"""

from __future__ import annotations

import sys
import uuid
from typing import Any
from urllib.parse import parse_qs

import uvicorn

ZEROS = memoryview(bytes(8 << 20))
SIZES: dict[str, int] = {}
UPLOADS: dict[str, int] = {}


async def _drain(receive: Any) -> int:
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            return size


async def _answer(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The null S3 (path-style addressing)."""
    if scope["type"] != "http":
        return
    method, path = scope["method"], scope["path"]
    query = parse_qs(scope["query_string"].decode(), keep_blank_values=True)
    etag = [(b"etag", b'"00000000000000000000000000000000"')]
    if method == "PUT":
        size = await _drain(receive)
        if "uploadId" in query:
            UPLOADS[query["uploadId"][0]] += size
        else:
            SIZES[path] = size
        await _answer(send, 200, etag)
    elif method == "POST":
        await _drain(receive)
        if "uploads" in query:
            upload = uuid.uuid4().hex
            UPLOADS[upload] = 0
            body = f"<InitiateMultipartUploadResult><UploadId>{upload}</UploadId></InitiateMultipartUploadResult>"
        else:
            SIZES[path] = UPLOADS.pop(query["uploadId"][0])
            body = "<CompleteMultipartUploadResult><ETag>\"0-1\"</ETag></CompleteMultipartUploadResult>"
        await _answer(send, 200, [(b"content-type", b"application/xml")], body.encode())
    elif method in ("GET", "HEAD"):
        size = SIZES.get(path, 0)
        start, end = 0, size - 1
        ranged = dict(scope["headers"]).get(b"range")
        if ranged:
            first, _, last = ranged.decode().removeprefix("bytes=").partition("-")
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        length = end - start + 1
        headers = [*etag, (b"content-length", str(length).encode())]
        status = 200
        if ranged:
            status = 206
            headers.append((b"content-range", f"bytes {start}-{end}/{size}".encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        while method == "GET" and length:
            piece = ZEROS[:min(length, len(ZEROS))]
            length -= len(piece)
            await send({"type": "http.response.body", "body": piece, "more_body": bool(length)})
        if method == "HEAD" or not size:
            await send({"type": "http.response.body", "body": b""})
    else:
        await _answer(send, 405, [])


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", http="httptools", loop="uvloop",
                lifespan="off")
