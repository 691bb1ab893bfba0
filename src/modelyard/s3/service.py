"""The S3 operations modelyard serves, as handlers of validated parameters (``wire.rest_xml``).

Metadata work runs in the control thread pool; uploads stream into ``s3.blobs`` (never whole in
memory) and downloads stream out of an open blob. A member a handler does not act on is refused with
S3's ``NotImplemented`` naming it, so no request is accepted for a behaviour that is not there.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, unquote

from modelyard.context import RequestContext
from modelyard.s3 import errors
from modelyard.s3.blobs import BlobFiles, TempBlob, receive
from modelyard.s3.catalog import Catalog
from modelyard.s3.digests import Digests, declared_checksums
from modelyard.s3.listing import decode_token, encode_token, list_keys
from modelyard.s3.names import check_bucket_name, check_key
from modelyard.store.errors import DuplicateKey, StoreUnavailable
from modelyard.store.s3_rows import ObjectRecord, Part, Upload
from modelyard.wire.rest_xml import STATUS
from modelyard.wire.streams import STREAMED_BODY, FileBody, RequestStream

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[Mapping[str, Any] | None]]
T = TypeVar("T")

MAX_PUT_BYTES = 5 * 1024**3
MIN_PART_BYTES = 5 * 1024**2
MAX_PARTS = 10000
MAX_DELETE_KEYS = 1000
_STORED_HEADERS = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "Expires")
_CHECKSUMS = tuple(f"Checksum{name}" for name in ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256", "SHA512", "MD5",
                                                  "XXHASH64", "XXHASH3", "XXHASH128"))
_WRITE = ("Bucket", "Key", "Body", "ContentLength", "ContentMD5", "ContentType", *_STORED_HEADERS, "Metadata",
          "ChecksumAlgorithm", *_CHECKSUMS)
_CONDITIONS = ("IfMatch", "IfNoneMatch", "IfModifiedSince", "IfUnmodifiedSince")
_OVERRIDES = {"ResponseCacheControl": "CacheControl", "ResponseContentDisposition": "ContentDisposition",
              "ResponseContentEncoding": "ContentEncoding", "ResponseContentLanguage": "ContentLanguage",
              "ResponseContentType": "ContentType", "ResponseExpires": "Expires"}
SUPPORTED: dict[str, tuple[str, ...]] = {
    "ListBuckets": ("MaxBuckets", "ContinuationToken", "Prefix", "BucketRegion"),
    "CreateBucket": ("Bucket", "CreateBucketConfiguration", "ObjectOwnership"),
    "HeadBucket": ("Bucket",),
    "DeleteBucket": ("Bucket",),
    "GetBucketLocation": ("Bucket",),
    "PutObject": _WRITE + ("StorageClass",),
    "UploadPart": ("Bucket", "Key", "Body", "ContentLength", "ContentMD5", "ChecksumAlgorithm", *_CHECKSUMS,
                   "PartNumber", "UploadId"),
    "GetObject": ("Bucket", "Key", "Range", *_CONDITIONS, *_OVERRIDES, "ChecksumMode"),
    "HeadObject": ("Bucket", "Key", "Range", *_CONDITIONS, *_OVERRIDES, "ChecksumMode"),
    "DeleteObject": ("Bucket", "Key"),
    "DeleteObjects": ("Bucket", "Delete", "ChecksumAlgorithm"),
    "CopyObject": ("Bucket", "Key", "CopySource", "MetadataDirective", "ContentType", *_STORED_HEADERS, "Metadata",
                   "ChecksumAlgorithm", "StorageClass"),
    "ListObjects": ("Bucket", "Prefix", "Delimiter", "Marker", "MaxKeys", "EncodingType"),
    "ListObjectsV2": ("Bucket", "Prefix", "Delimiter", "StartAfter", "ContinuationToken", "MaxKeys", "EncodingType",
                      "FetchOwner"),
    "CreateMultipartUpload": ("Bucket", "Key", "ContentType", *_STORED_HEADERS, "Metadata", "ChecksumAlgorithm",
                              "ChecksumType", "StorageClass"),
    "CompleteMultipartUpload": ("Bucket", "Key", "UploadId", "MultipartUpload", *_CHECKSUMS, "ChecksumType",
                                "MpuObjectSize"),
    "AbortMultipartUpload": ("Bucket", "Key", "UploadId"),
    "ListParts": ("Bucket", "Key", "UploadId", "MaxParts", "PartNumberMarker"),
    "ListMultipartUploads": ("Bucket", "Prefix", "MaxUploads", "KeyMarker", "UploadIdMarker", "EncodingType",
                             "Delimiter"),
}
"""The members each operation acts on; ``ExpectedBucketOwner`` is checked for every operation."""
STREAMED = frozenset({"PutObject", "UploadPart"})
_SSE_OPERATIONS = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})
"""Writes that accept ``ServerSideEncryption`` AES256 or aws:kms without a key id, which S3 applies with
keys it manages and the sagemaker SDK sends on every repack by default. Accepted, not applied: modelyard
keeps the bytes unencrypted in the private (0700) data dir (README says so)."""
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _etag(value: str) -> str:
    return f'"{value}"'


def _owner(account: str) -> dict[str, str]:
    return {"ID": account, "DisplayName": account}


class S3Service:
    """modelyard's S3: one catalog and one blob directory, for every account."""

    def __init__(self, catalog: Catalog, files: BlobFiles, executor: Executor) -> None:
        self.catalog = catalog
        self.files = files
        self.executor = executor

    @staticmethod
    def placeholder_operations() -> dict[str, Handler]:
        """The operation names without a store behind them (for the coverage table only)."""

        async def unavailable(ctx: RequestContext, params: dict[str, Any]) -> None:
            raise errors.InternalError("modelyard's S3 was built without its store")

        return dict.fromkeys(SUPPORTED, unavailable)

    def operations(self) -> dict[str, Handler]:
        """The handlers by operation name, each refusing members it does not act on."""
        handlers: dict[str, Handler] = {
            "ListBuckets": self.list_buckets, "CreateBucket": self.create_bucket, "HeadBucket": self.head_bucket,
            "DeleteBucket": self.delete_bucket, "GetBucketLocation": self.get_bucket_location,
            "PutObject": self.put_object, "GetObject": self.get_object, "HeadObject": self.head_object,
            "DeleteObject": self.delete_object, "DeleteObjects": self.delete_objects,
            "CopyObject": self.copy_object, "ListObjects": self.list_objects, "ListObjectsV2": self.list_objects_v2,
            "CreateMultipartUpload": self.create_multipart_upload, "UploadPart": self.upload_part,
            "CompleteMultipartUpload": self.complete_multipart_upload,
            "AbortMultipartUpload": self.abort_multipart_upload, "ListParts": self.list_parts,
            "ListMultipartUploads": self.list_multipart_uploads,
        }
        return {name: _checked(name, handler) for name, handler in handlers.items()}

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, partial(function, *args))
        except DuplicateKey as exc:
            raise errors.S3Error(f"The request conflicts with a concurrent change: {exc}") from None
        except StoreUnavailable as exc:
            raise errors.S3Error(f"The metadata store is unavailable: {exc}") from None

    # --- buckets ---------------------------------------------------------------------------------

    async def list_buckets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """The caller's buckets."""
        buckets = await self._run(self.catalog.buckets, ctx.account)
        prefix = params.get("Prefix", "")
        return {"Buckets": [{"Name": b.name, "CreationDate": b.created_at, "BucketRegion": b.region}
                            for b in buckets if b.name.startswith(prefix)], "Owner": _owner(ctx.account)}

    async def create_bucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """A bucket in the request's region (LocationConstraint must name it)."""
        name = check_bucket_name(params["Bucket"])
        config = params.get("CreateBucketConfiguration") or {}
        unsupported = sorted(set(config) - {"LocationConstraint"})
        if unsupported:
            raise errors.NotImplementedS3(f"modelyard's S3 does not support CreateBucketConfiguration {unsupported[0]}")
        if params.get("ObjectOwnership") not in (None, "BucketOwnerEnforced"):
            raise errors.NotImplementedS3("modelyard's S3 supports only ObjectOwnership BucketOwnerEnforced")
        constraint = config.get("LocationConstraint")
        if constraint and constraint != ctx.region:
            raise errors.IllegalLocationConstraint(f"The {constraint} location constraint is incompatible for the "
                                                   f"region specific endpoint this request was sent to ({ctx.region}).")
        if not constraint and ctx.region != "us-east-1":
            raise errors.IllegalLocationConstraint("The unspecified location constraint is incompatible for the "
                                                   f"region specific endpoint this request was sent to ({ctx.region}).")
        await self._run(self.catalog.create_bucket, ctx.account, ctx.region, name, ctx.now)
        return {"Location": f"/{name}"}

    async def head_bucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """200 with the bucket's region, or the error."""
        bucket = await self._run(self.catalog.bucket, ctx.account, params["Bucket"])
        return {"BucketRegion": bucket.region}

    async def delete_bucket(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        """Delete an empty bucket."""
        await self._run(self.catalog.delete_bucket, ctx.account, params["Bucket"])

    async def get_bucket_location(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """The bucket's region (empty for us-east-1, as S3 answers)."""
        bucket = await self._run(self.catalog.bucket, ctx.account, params["Bucket"])
        return {"LocationConstraint": None if bucket.region == "us-east-1" else bucket.region}

    # --- objects ---------------------------------------------------------------------------------

    async def put_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Stream the body to a blob, verify its digests, then publish it."""
        stream = _stream(params)
        if params.get("StorageClass", "STANDARD") != "STANDARD":
            raise errors.NotImplementedS3("modelyard's S3 stores every object as STANDARD")
        await self._run(self.catalog.bucket, ctx.account, params["Bucket"])
        key = check_key(params["Key"])
        temp, digests = await self._receive(stream, params)
        checksum = digests.checksum()
        record = ObjectRecord(bucket=params["Bucket"], key=key, size=temp.size, etag=digests.etag, modified_at=ctx.now,
                              content_type=params.get("ContentType") or "binary/octet-stream",
                              headers=_stored_headers(params), metadata=params.get("Metadata") or {},
                              checksum_algorithm=checksum[0] if checksum else None,
                              checksum=checksum[1] if checksum else None)
        try:
            await self._run(self.catalog.put, record, temp.path)
        finally:
            temp.path.unlink(missing_ok=True)
        return {"ETag": _etag(digests.etag), **_checksum_members(record)}

    async def _receive(self, stream: RequestStream, params: dict[str, Any]) -> tuple[TempBlob, Digests]:
        """Stream a body into a temporary blob, checking its length and every digest it declares (in
        headers, or in the trailers of an ``aws-chunked`` body)."""
        length = _length(params, MAX_PUT_BYTES)
        trailer_algorithm = None
        if stream.transform is not None:
            decoded = stream.headers.get("x-amz-decoded-content-length", "")
            if not decoded.isdigit():
                raise errors.MissingContentLength("An aws-chunked body needs the x-amz-decoded-content-length header")
            length = int(decoded)
            trailer = stream.headers.get("x-amz-trailer", "").strip().lower()
            if trailer.startswith("x-amz-checksum-"):
                trailer_algorithm = trailer[len("x-amz-checksum-"):].upper()
        digests = Digests(params.get("ContentMD5"), _signed_sha256(stream), declared_checksums(params),
                          trailer_algorithm or params.get("ChecksumAlgorithm"))

        def trailer_checksums() -> dict[str, str]:
            return {name[len("x-amz-checksum-"):].upper(): value for name, value in stream.trailers.items()
                    if name.startswith("x-amz-checksum-")}

        return await receive(stream.chunks(), self.files, digests, length, trailer_checksums), digests

    async def _open(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[ObjectRecord, int]:
        def find() -> tuple[ObjectRecord, int]:
            self.catalog.bucket(ctx.account, params["Bucket"])
            for _ in range(3):
                record = self.catalog.get(params["Bucket"], params["Key"])
                try:
                    return record, self.files.open(record.blob)
                except FileNotFoundError:
                    continue
            raise errors.NoSuchKey("The specified key does not exist.", Key=params["Key"])

        return await self._run(find)

    async def get_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """The object's bytes (or a range of them), streamed from its blob."""
        record, fd = await self._open(ctx, params)
        try:
            result, start, length = _ranged_headers(record, params)
            result["Body"] = FileBody(fd, start, length)
        except BaseException:
            os.close(fd)
            raise
        return result

    async def head_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """The object's headers."""
        record, fd = await self._open(ctx, params)
        os.close(fd)
        return _ranged_headers(record, params)[0]

    async def delete_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Delete one object (204 whether or not it was there)."""
        def run() -> None:
            self.catalog.bucket(ctx.account, params["Bucket"])
            self.catalog.delete(params["Bucket"], [params["Key"]])

        await self._run(run)
        return {}

    async def delete_objects(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Delete up to 1,000 objects in one call."""
        request = params["Delete"]
        objects = request.get("Objects") or []
        if not objects or len(objects) > MAX_DELETE_KEYS:
            raise errors.MalformedXML(f"A Delete names 1 to {MAX_DELETE_KEYS} objects, not {len(objects)}")
        keys, failed = [], []
        for item in objects:
            key = item.get("Key", "")
            if item.get("VersionId") not in (None, "null"):
                failed.append({"Key": key, "Code": "NotImplemented",
                               "Message": "modelyard's S3 does not keep object versions"})
            elif not key or len(key.encode()) > 1024:
                failed.append({"Key": key, "Code": "InvalidArgument", "Message": "Invalid key"})
            else:
                keys.append(key)

        def run() -> None:
            self.catalog.bucket(ctx.account, params["Bucket"])
            self.catalog.delete(params["Bucket"], keys)

        await self._run(run)
        deleted = [] if request.get("Quiet") else [{"Key": key} for key in keys]
        return {"Deleted": deleted, "Errors": failed}

    async def copy_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Copy an object (metadata copied, or replaced with MetadataDirective REPLACE)."""
        source_bucket, source_key = _copy_source(params["CopySource"])
        key = check_key(params["Key"])
        directive = params.get("MetadataDirective", "COPY")

        def run() -> ObjectRecord:
            self.catalog.bucket(ctx.account, params["Bucket"])
            self.catalog.bucket(ctx.account, source_bucket)
            source = self.catalog.get(source_bucket, source_key)
            if (source_bucket, source_key) == (params["Bucket"], key) and directive == "COPY":
                raise errors.InvalidRequest("This copy request is illegal because it is trying to copy an object to "
                                            "itself without changing the object's metadata, storage class, website "
                                            "redirect location or encryption attributes.")
            temp = self.files.copy(source.blob)
            fields: dict[str, Any]
            if directive == "REPLACE":
                fields = {"content_type": params.get("ContentType") or "binary/octet-stream",
                          "headers": _stored_headers(params), "metadata": params.get("Metadata") or {}}
            else:
                fields = {"content_type": source.content_type, "headers": source.headers,
                          "metadata": source.metadata}
            record = ObjectRecord(bucket=params["Bucket"], key=key, size=source.size, etag=source.etag,
                                  modified_at=ctx.now, checksum_algorithm=source.checksum_algorithm,
                                  checksum=source.checksum, parts=source.parts, **fields)
            try:
                return self.catalog.put(record, temp)
            finally:
                temp.unlink(missing_ok=True)

        record = await self._run(run)
        return {"CopyObjectResult": {"ETag": _etag(record.etag), "LastModified": record.modified_at,
                                     **_checksum_members(record)}}

    # --- listing ---------------------------------------------------------------------------------

    async def list_objects(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """ListObjects (V1): marker paging."""
        prefix, delimiter, max_keys = params.get("Prefix", ""), params.get("Delimiter", ""), _max_keys(params)
        marker = params.get("Marker", "")
        page = await self._list(ctx, params["Bucket"], prefix, delimiter, marker, max_keys)
        encode = _encoder(params)
        result = {"Name": params["Bucket"], "Prefix": encode(prefix), "Marker": encode(marker), "MaxKeys": max_keys,
                  "IsTruncated": page.truncated, "Contents": _contents(page.objects, encode),
                  "CommonPrefixes": [{"Prefix": encode(p)} for p in page.prefixes],
                  "EncodingType": params.get("EncodingType")}
        if delimiter:
            result["Delimiter"] = encode(delimiter)
            if page.truncated:
                result["NextMarker"] = encode(page.last)
        return result

    async def list_objects_v2(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """ListObjectsV2: start-after and continuation tokens."""
        prefix, delimiter, max_keys = params.get("Prefix", ""), params.get("Delimiter", ""), _max_keys(params)
        token = params.get("ContinuationToken")
        after = decode_token(token) if token else params.get("StartAfter", "")
        page = await self._list(ctx, params["Bucket"], prefix, delimiter, after, max_keys)
        encode = _encoder(params)
        contents = _contents(page.objects, encode)
        if params.get("FetchOwner"):
            for item in contents:
                item["Owner"] = _owner(ctx.account)
        result = {"Name": params["Bucket"], "Prefix": encode(prefix), "MaxKeys": max_keys,
                  "IsTruncated": page.truncated, "Contents": contents,
                  "KeyCount": len(page.objects) + len(page.prefixes),
                  "CommonPrefixes": [{"Prefix": encode(p)} for p in page.prefixes],
                  "EncodingType": params.get("EncodingType"), "ContinuationToken": token,
                  "StartAfter": encode(params["StartAfter"]) if params.get("StartAfter") else None}
        if delimiter:
            result["Delimiter"] = encode(delimiter)
        if page.truncated:
            result["NextContinuationToken"] = encode_token(page.last)
        return result

    async def _list(self, ctx: RequestContext, bucket: str, prefix: str, delimiter: str, after: str,
                    max_keys: int) -> Any:
        def run() -> Any:
            self.catalog.bucket(ctx.account, bucket)
            return list_keys(self.catalog, bucket, prefix, delimiter, after, max_keys)

        return await self._run(run)

    # --- multipart -------------------------------------------------------------------------------

    async def create_multipart_upload(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Start an upload."""
        key = check_key(params["Key"])
        if params.get("StorageClass", "STANDARD") != "STANDARD":
            raise errors.NotImplementedS3("modelyard's S3 stores every object as STANDARD")
        if params.get("ChecksumType", "COMPOSITE") != "COMPOSITE":
            raise errors.NotImplementedS3("modelyard's S3 supports only COMPOSITE multipart checksums")
        algorithm = params.get("ChecksumAlgorithm")
        if algorithm:
            Digests(algorithm=algorithm)
        upload = Upload(secrets.token_urlsafe(32), params["Bucket"], key, ctx.now,
                        params.get("ContentType") or "binary/octet-stream", _stored_headers(params),
                        params.get("Metadata") or {}, algorithm)

        def run() -> None:
            self.catalog.bucket(ctx.account, params["Bucket"])
            self.catalog.create_upload(upload)

        await self._run(run)
        return {"Bucket": upload.bucket, "Key": key, "UploadId": upload.upload_id, "ChecksumAlgorithm": algorithm}

    async def upload_part(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Stream one part to a blob and record it."""
        stream = _stream(params)
        number = params["PartNumber"]
        if not 1 <= number <= MAX_PARTS:
            raise errors.InvalidArgument(f"Part number must be an integer between 1 and {MAX_PARTS}, inclusive",
                                         ArgumentName="partNumber", ArgumentValue=number)

        def find() -> Upload:
            self.catalog.bucket(ctx.account, params["Bucket"])
            return self.catalog.upload(params["Bucket"], params["Key"], params["UploadId"])

        upload = await self._run(find)
        temp, digests = await self._receive(stream, params)
        checksum = digests.checksum()
        part = Part(number, "", temp.size, digests.etag, checksum[1] if checksum else None, ctx.now)
        try:
            await self._run(self.catalog.put_part, upload, part, temp.path)
        finally:
            temp.path.unlink(missing_ok=True)
        result: dict[str, Any] = {"ETag": _etag(digests.etag)}
        if checksum:
            result[f"Checksum{checksum[0]}"] = checksum[1]
        return result

    async def complete_multipart_upload(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Assemble the named parts into the object (ETag: MD5 of the parts' MD5s, ``-N``)."""
        named = (params.get("MultipartUpload") or {}).get("Parts") or []
        if not named:
            raise errors.MalformedXML("The XML you provided was not well-formed or did not validate against our "
                                      "published schema: name at least one part")
        numbers = [item.get("PartNumber", 0) for item in named]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise errors.InvalidPartOrder("The list of parts was not in ascending order. Parts must be ordered by "
                                          "part number.", UploadId=params["UploadId"])

        def run() -> ObjectRecord:
            self.catalog.bucket(ctx.account, params["Bucket"])
            upload = self.catalog.upload(params["Bucket"], params["Key"], params["UploadId"])
            stored = {part.number: part for part in self.catalog.parts(upload.upload_id)}
            chosen = []
            for item in named:
                part = stored.get(item.get("PartNumber", 0))
                if part is None or item.get("ETag", "").strip('"') != part.etag:
                    raise errors.InvalidPart("One or more of the specified parts could not be found. The part may "
                                             "not have been uploaded, or the specified entity tag may not match the "
                                             "part's entity tag.", UploadId=upload.upload_id,
                                             PartNumber=item.get("PartNumber"), ETag=item.get("ETag"))
                for member in _CHECKSUMS:
                    if item.get(member) and part.checksum and item[member] != part.checksum:
                        raise errors.InvalidPart(f"The {member} of part {part.number} does not match the part "
                                                 "uploaded", UploadId=upload.upload_id, PartNumber=part.number)
                chosen.append(part)
            for part in chosen[:-1]:
                if part.size < MIN_PART_BYTES:
                    raise errors.EntityTooSmall("Your proposed upload is smaller than the minimum allowed object "
                                                "size.", ProposedSize=part.size, MinSizeAllowed=MIN_PART_BYTES,
                                                PartNumber=part.number, ETag=_etag(part.etag))
            digest = hashlib.md5(b"".join(bytes.fromhex(p.etag) for p in chosen), usedforsecurity=False)
            record = ObjectRecord(bucket=upload.bucket, key=upload.key, size=sum(p.size for p in chosen),
                                  etag=f"{digest.hexdigest()}-{len(chosen)}", modified_at=ctx.now,
                                  content_type=upload.content_type, headers=upload.headers, metadata=upload.metadata,
                                  parts=len(chosen))
            temp = self.files.concatenate(p.blob for p in chosen)
            try:
                return self.catalog.complete(upload, record, temp)
            finally:
                temp.unlink(missing_ok=True)

        record = await self._run(run)
        return {"Location": f"/{record.bucket}/{quote(record.key)}", "Bucket": record.bucket, "Key": record.key,
                "ETag": _etag(record.etag)}

    async def abort_multipart_upload(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """End an upload and drop its parts."""
        def run() -> None:
            self.catalog.bucket(ctx.account, params["Bucket"])
            self.catalog.abort(self.catalog.upload(params["Bucket"], params["Key"], params["UploadId"]))

        await self._run(run)
        return {}

    async def list_parts(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """The parts uploaded so far, after PartNumberMarker."""
        max_parts = min(max(params.get("MaxParts", 1000), 0), 1000)
        marker = int(params.get("PartNumberMarker") or 0)

        def run() -> tuple[Upload, list[Part]]:
            self.catalog.bucket(ctx.account, params["Bucket"])
            upload = self.catalog.upload(params["Bucket"], params["Key"], params["UploadId"])
            return upload, [p for p in self.catalog.parts(upload.upload_id) if p.number > marker]

        upload, parts = await self._run(run)
        shown = parts[:max_parts]
        result: dict[str, Any] = {
            "Bucket": upload.bucket, "Key": upload.key, "UploadId": upload.upload_id, "MaxParts": max_parts,
            "PartNumberMarker": str(marker), "IsTruncated": len(parts) > max_parts,
            "Parts": [{"PartNumber": p.number, "ETag": _etag(p.etag), "Size": p.size, "LastModified": p.modified_at}
                      for p in shown],
            "Initiator": _owner(ctx.account), "Owner": _owner(ctx.account), "StorageClass": "STANDARD",
            "ChecksumAlgorithm": upload.checksum_algorithm}
        if shown:
            result["NextPartNumberMarker"] = str(shown[-1].number)
        return result

    async def list_multipart_uploads(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Uploads in progress under Prefix (one page of up to MaxUploads)."""
        if params.get("Delimiter") or params.get("KeyMarker") or params.get("UploadIdMarker"):
            raise errors.NotImplementedS3("modelyard's S3 lists multipart uploads by Prefix and MaxUploads only")
        max_uploads = min(max(params.get("MaxUploads", 1000), 0), 1000)
        prefix = params.get("Prefix", "")

        def run() -> list[Upload]:
            self.catalog.bucket(ctx.account, params["Bucket"])
            return list(self.catalog.uploads(params["Bucket"], prefix, max_uploads + 1))

        uploads = await self._run(run)
        return {"Bucket": params["Bucket"], "Prefix": prefix, "MaxUploads": max_uploads,
                "IsTruncated": len(uploads) > max_uploads,
                "Uploads": [{"Key": u.key, "UploadId": u.upload_id, "Initiated": u.created_at,
                             "StorageClass": "STANDARD", "Owner": _owner(ctx.account),
                             "Initiator": _owner(ctx.account)} for u in uploads[:max_uploads]]}


def _checked(name: str, handler: Handler) -> Handler:
    allowed = frozenset((*SUPPORTED[name], "ExpectedBucketOwner", STREAMED_BODY))
    writes = name in _SSE_OPERATIONS

    async def run(ctx: RequestContext, params: dict[str, Any]) -> Mapping[str, Any] | None:
        for member in params:
            if member not in allowed and not (writes and member == "ServerSideEncryption"):
                raise errors.NotImplementedS3(f"modelyard's S3 does not support {member} on {name}")
        if writes and params.get("ServerSideEncryption", "AES256") not in ("AES256", "aws:kms"):
            raise errors.NotImplementedS3("modelyard's S3 accepts ServerSideEncryption AES256 or aws:kms (with no key "
                                          "id) only; aws:kms:dsse and customer keys are not implemented")
        owner = params.get("ExpectedBucketOwner")
        if owner is not None and owner != ctx.account:
            raise errors.AccessDenied("Access Denied: the bucket is not owned by the expected account")
        return await handler(ctx, params)

    return run



def _ranged_headers(record: ObjectRecord, params: dict[str, Any]) -> tuple[dict[str, Any], int, int]:
    """An object's response headers for the request's Range (206 and Content-Range for a part, whose
    whole-object checksums do not apply), with the first byte and the length to send."""
    result = _object_headers(record, params)
    start, length = _range(params.get("Range"), record.size)
    if length != record.size:
        result[STATUS] = 206
        result["ContentRange"] = f"bytes {start}-{start + length - 1}/{record.size}"
        for member in _CHECKSUMS:
            result.pop(member, None)
    result["ContentLength"] = length
    return result, start, length

def _stream(params: dict[str, Any]) -> RequestStream:
    stream = params[STREAMED_BODY]
    assert isinstance(stream, RequestStream)
    encoding = params.get("ContentEncoding", "")
    if "aws-chunked" in encoding:
        rest = ",".join(part for part in (p.strip() for p in encoding.split(",")) if part and part != "aws-chunked")
        if rest:
            params["ContentEncoding"] = rest
        else:
            params.pop("ContentEncoding")
    return stream


def _signed_sha256(stream: RequestStream) -> str | None:
    declared = stream.headers.get("x-amz-content-sha256", "")
    return declared if len(declared) == 64 else None


def _length(params: dict[str, Any], limit: int) -> int:
    length = params.get("ContentLength")
    if length is None:
        raise errors.MissingContentLength("You must provide the Content-Length HTTP header.")
    if length > limit:
        raise errors.EntityTooLarge("Your proposed upload exceeds the maximum allowed size", ProposedSize=length,
                                    MaxSizeAllowed=limit)
    return int(length)


def _stored_headers(params: dict[str, Any]) -> dict[str, Any]:
    return {name: params[name] for name in _STORED_HEADERS if params.get(name) is not None}


def _checksum_members(record: ObjectRecord) -> dict[str, str]:
    if record.checksum_algorithm and record.checksum:
        return {f"Checksum{record.checksum_algorithm}": record.checksum}
    return {}


def _object_headers(record: ObjectRecord, params: dict[str, Any]) -> dict[str, Any]:
    _check_conditions(record, params)
    result: dict[str, Any] = {"ETag": _etag(record.etag), "LastModified": record.modified_at,
                              "ContentType": record.content_type, "Metadata": record.metadata,
                              "AcceptRanges": "bytes", "PartsCount": record.parts, **record.headers}
    if params.get("ChecksumMode") == "ENABLED":
        result.update(_checksum_members(record))
    for override, member in _OVERRIDES.items():
        if params.get(override) is not None:
            result[member] = params[override]
    return result


def _check_conditions(record: ObjectRecord, params: dict[str, Any]) -> None:
    seconds = int(record.modified_at)
    match = params.get("IfMatch")
    if match is not None and match.strip('"') not in ("*", record.etag):
        raise errors.PreconditionFailed("At least one of the pre-conditions you specified did not hold",
                                        Condition="If-Match")
    since = params.get("IfUnmodifiedSince")
    if match is None and since is not None and seconds > since:
        raise errors.PreconditionFailed("At least one of the pre-conditions you specified did not hold",
                                        Condition="If-Unmodified-Since")
    none_match = params.get("IfNoneMatch")
    if none_match is not None and none_match.strip('"') in ("*", record.etag):
        raise errors.NotModified("Not Modified")
    modified = params.get("IfModifiedSince")
    if none_match is None and modified is not None and seconds <= modified:
        raise errors.NotModified("Not Modified")


def _range(header: str | None, size: int) -> tuple[int, int]:
    """(start, length) of a ``bytes=`` range; the whole object for none or a form S3 ignores."""
    if not header:
        return 0, size
    found = _RANGE.match(header.strip())
    if found is None:
        return 0, size
    first, last = found.groups()
    if not first and not last:
        return 0, size
    if not first:
        suffix = int(last)
        if suffix == 0:
            raise _unsatisfiable(header, size)
        start = max(size - suffix, 0)
        return start, size - start
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return 0, size
    if start >= size:
        raise _unsatisfiable(header, size)
    return start, end - start + 1


def _unsatisfiable(header: str, size: int) -> errors.S3Error:
    return errors.InvalidRange("The requested range is not satisfiable", RangeRequested=header,
                               ActualObjectSize=size)


def _copy_source(value: str) -> tuple[str, str]:
    source = unquote(value).lstrip("/")
    if "?versionId=" in source:
        source, _, version = source.partition("?versionId=")
        if version != "null":
            raise errors.NotImplementedS3("modelyard's S3 does not keep object versions (x-amz-copy-source versionId)")
    bucket, _, key = source.partition("/")
    if not bucket or not key:
        raise errors.InvalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                                     ArgumentName="x-amz-copy-source", ArgumentValue=value[:200])
    return bucket, key


def _max_keys(params: dict[str, Any]) -> int:
    value = params.get("MaxKeys", 1000)
    if value < 0:
        raise errors.InvalidArgument("max-keys cannot be negative", ArgumentName="max-keys")
    return int(min(value, 1000))


def _encoder(params: dict[str, Any]) -> Callable[[str], str]:
    encoding = params.get("EncodingType")
    if encoding is None:
        return lambda text: text
    if encoding != "url":
        raise errors.InvalidArgument("Invalid Encoding Method specified in Request", ArgumentName="encoding-type")
    return lambda text: quote_plus(text, safe="/")


def _contents(objects: list[ObjectRecord], encode: Callable[[str], str]) -> list[dict[str, Any]]:
    return [{"Key": encode(o.key), "LastModified": o.modified_at, "ETag": _etag(o.etag), "Size": o.size,
             "StorageClass": "STANDARD",
             **({"ChecksumAlgorithm": [o.checksum_algorithm]} if o.checksum_algorithm else {})} for o in objects]
