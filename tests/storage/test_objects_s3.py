"""ObjectStore against a real moto S3 server process."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from modelyard.storage import ArtifactNotFoundError, ObjectStore, StorageError
from tests.support.moto_s3 import MotoS3Server, start_moto_s3


def test_write_then_read_bytes(store: ObjectStore, bucket: str, s3: Any) -> None:
    store.write_bytes(f"s3://{bucket}/a/b.bin", b"\x00\x01payload")
    assert store.read_bytes(f"s3://{bucket}/a/b.bin") == b"\x00\x01payload"
    assert s3.get_object(Bucket=bucket, Key="a/b.bin")["Body"].read() == b"\x00\x01payload"


def test_list_is_sorted_with_sizes_and_etags(store: ObjectStore, bucket: str, s3: Any) -> None:
    for key, body in [("p/z.txt", b"zz"), ("p/a.txt", b"a"), ("p/sub/m.txt", b"mmm"), ("q/other", b"o")]:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    s3.put_object(Bucket=bucket, Key="p/folder/", Body=b"")
    infos = store.list(f"s3://{bucket}/p/")
    assert [i.key for i in infos] == ["p/a.txt", "p/sub/m.txt", "p/z.txt"]
    assert [i.size for i in infos] == [1, 3, 2]
    assert [i.relative for i in infos] == ["a.txt", "sub/m.txt", "z.txt"]
    assert infos[0].uri == f"s3://{bucket}/p/a.txt"
    assert infos[0].etag == s3.head_object(Bucket=bucket, Key="p/a.txt")["ETag"].strip('"')
    assert store.list(f"s3://{bucket}/nothing-here/") == []
    assert [i.key for i in store.list(f"s3://{bucket}")] == ["p/a.txt", "p/sub/m.txt", "p/z.txt", "q/other"]
    assert [i.relative for i in store.list(f"s3://{bucket}/p")] == ["a.txt", "sub/m.txt", "z.txt"]


def test_list_paginates(store: ObjectStore, bucket: str, s3: Any) -> None:
    keys = [f"many/{i:04d}" for i in range(1003)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=b""), keys))
    assert [i.key for i in store.list(f"s3://{bucket}/many/")] == keys


def test_exists(store: ObjectStore, bucket: str, s3: Any) -> None:
    s3.put_object(Bucket=bucket, Key="d/x", Body=b"1")
    assert store.exists(f"s3://{bucket}/d/x")
    assert store.exists(f"s3://{bucket}/d/")
    assert store.exists(f"s3://{bucket}/d")
    assert not store.exists(f"s3://{bucket}/d/y")
    assert not store.exists(f"s3://{bucket}/e/")
    with pytest.raises(ArtifactNotFoundError):
        store.exists("s3://no-such-bucket-zz/x")


def test_stat(store: ObjectStore, bucket: str) -> None:
    store.write_bytes(f"s3://{bucket}/m/model.tar.gz", b"12345")
    info = store.stat(f"s3://{bucket}/m/model.tar.gz")
    assert (info.size, info.key, info.relative) == (5, "m/model.tar.gz", "model.tar.gz")
    assert len(info.etag) == 32


def test_download_to_file_and_into_directory(store: ObjectStore, bucket: str, tmp_path: Path) -> None:
    store.write_bytes(f"s3://{bucket}/m/model.tar.gz", b"data")
    dest = store.download(f"s3://{bucket}/m/model.tar.gz", tmp_path / "deep" / "x.bin")
    assert dest.read_bytes() == b"data"
    into = store.download(f"s3://{bucket}/m/model.tar.gz", tmp_path)
    assert into == tmp_path / "model.tar.gz" and into.read_bytes() == b"data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "model.tar.gz"]


@pytest.mark.parametrize(
    "uri_template",
    ["s3://{bucket}/missing.bin", "s3://{bucket}/dir/missing"],
)
@pytest.mark.parametrize("operation", ["read_bytes", "download", "stat"])
def test_missing_object_names_the_uri(store: ObjectStore, bucket: str, tmp_path: Path,
                                      uri_template: str, operation: str) -> None:
    uri = uri_template.format(bucket=bucket)
    args: tuple[Any, ...] = (uri, tmp_path / "out") if operation == "download" else (uri,)
    with pytest.raises(ArtifactNotFoundError) as info:
        getattr(store, operation)(*args)
    assert uri in str(info.value)
    assert info.value.uri == uri
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("operation", ["read_bytes", "write_bytes", "list", "upload_file"])
def test_missing_bucket(store: ObjectStore, tmp_path: Path, operation: str) -> None:
    uri = "s3://no-such-bucket-zz/k"
    src = tmp_path / "f"
    src.write_bytes(b"x")
    args = {"read_bytes": (uri,), "write_bytes": (uri, b"x"), "list": (uri,),
            "upload_file": (src, uri)}[operation]
    with pytest.raises(ArtifactNotFoundError) as info:
        getattr(store, operation)(*args)
    assert "s3://no-such-bucket-zz/k" in str(info.value)
    assert info.value.code == "NoSuchBucket"


def test_upload_file_small_and_multipart(store: ObjectStore, bucket: str, s3: Any, tmp_path: Path) -> None:
    small = tmp_path / "small.txt"
    small.write_text("hello")
    assert store.upload_file(small, f"s3://{bucket}/up/small.txt") == f"s3://{bucket}/up/small.txt"
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))
    store.upload_file(big, f"s3://{bucket}/up/big.bin")
    head = s3.head_object(Bucket=bucket, Key="up/big.bin")
    assert head["ContentLength"] == big.stat().st_size
    assert "-" in head["ETag"], "a file over boto3's 8 MiB threshold goes up as a multipart upload"
    assert store.read_bytes(f"s3://{bucket}/up/big.bin") == big.read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_upload_missing_local_file(store: ObjectStore, bucket: str, tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFoundError, match="local file .*nope does not exist"):
        store.upload_file(tmp_path / "nope", f"s3://{bucket}/x")


def test_upload_dir_and_download_prefix_round_trip(store: ObjectStore, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "code").mkdir(parents=True)
    (src / "model.pth").write_bytes(b"weights")
    (src / "code" / "inference.py").write_text("def model_fn(d): return 1\n")
    (src / "empty-dir").mkdir()
    uris = store.upload_dir(src, f"s3://{bucket}/models/m1")
    assert uris == [f"s3://{bucket}/models/m1/code/inference.py", f"s3://{bucket}/models/m1/model.pth"]
    written = store.download_prefix(f"s3://{bucket}/models/m1/", tmp_path / "out")
    assert written == [tmp_path / "out/code/inference.py", tmp_path / "out/model.pth"]
    assert (tmp_path / "out/model.pth").read_bytes() == b"weights"
    assert (tmp_path / "out/code/inference.py").read_text().startswith("def model_fn")


def test_download_prefix_without_trailing_slash(store: ObjectStore, bucket: str, s3: Any,
                                                tmp_path: Path) -> None:
    for key in ["data/train/a.csv", "data/train/sub/b.csv", "data/train-2/c.csv", "data/validation/v.csv"]:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    written = store.download_prefix(f"s3://{bucket}/data/train", tmp_path)
    rel = sorted(p.relative_to(tmp_path).as_posix() for p in written)
    assert rel == ["a.csv", "sub/b.csv", "train-2/c.csv"]
    assert (tmp_path / "sub/b.csv").read_bytes() == b"data/train/sub/b.csv"


def test_download_prefix_of_a_single_object(store: ObjectStore, bucket: str, tmp_path: Path) -> None:
    store.write_bytes(f"s3://{bucket}/in/data.csv", b"1,2\n")
    assert store.download_prefix(f"s3://{bucket}/in/data.csv", tmp_path) == [tmp_path / "data.csv"]


def test_download_prefix_nothing_there(store: ObjectStore, bucket: str, tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFoundError, match=f"no objects found under s3://{bucket}/empty/"):
        store.download_prefix(f"s3://{bucket}/empty/", tmp_path)


@pytest.mark.parametrize("key", ["in/../../escape.txt", "in/a/../../../x", "in/./.."])
def test_download_prefix_refuses_escaping_keys(store: ObjectStore, bucket: str, s3: Any, tmp_path: Path,
                                               key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=b"evil")
    with pytest.raises(StorageError, match="not a safe relative path") as info:
        store.download_prefix(f"s3://{bucket}/in/", tmp_path / "dest")
    assert info.value.code == "UnsafeKey"
    assert not (tmp_path / "escape.txt").exists()


def test_endpoint_from_standard_aws_setting(moto_s3: MotoS3Server, bucket: str, s3: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"via env")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_s3.endpoint_url)
    assert ObjectStore().read_bytes(f"s3://{bucket}/k") == b"via env"


def test_client_is_created_once(store: ObjectStore, bucket: str) -> None:
    store.write_bytes(f"s3://{bucket}/k", b"1")
    client = store._s3.client
    store.read_bytes(f"s3://{bucket}/k")
    assert store._s3.client is client


def test_auth_failure_is_a_storage_error_with_the_s3_code(tmp_path: Path) -> None:
    with start_moto_s3(env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"}, log_dir=tmp_path) as server:
        store = ObjectStore(endpoint_url=server.endpoint_url)
        with pytest.raises(StorageError) as info:
            store.read_bytes("s3://locked-bucket/k")
    assert not isinstance(info.value, ArtifactNotFoundError)
    assert info.value.code == "InvalidAccessKeyId"
    assert "s3://locked-bucket/k" in str(info.value) and "InvalidAccessKeyId" in str(info.value)


def test_unreachable_endpoint_is_a_storage_error() -> None:
    from tests.support.moto_s3 import _free_port

    store = ObjectStore(endpoint_url=f"http://127.0.0.1:{_free_port()}",
                        config=Config(retries={"max_attempts": 1}, connect_timeout=2))
    with pytest.raises(StorageError) as info:
        store.read_bytes("s3://bucket/k")
    assert info.value.code == "EndpointConnectionError"
    assert "s3://bucket/k" in str(info.value)
