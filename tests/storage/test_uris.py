"""Location parsing: good URIs and paths, and bad ones with actionable messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.storage import InvalidLocationError, parse_location


@pytest.mark.parametrize(
    ("uri", "bucket", "key", "is_prefix"),
    [
        ("s3://bucket/key", "bucket", "key", False),
        ("s3://my.bucket-1/a/b/model.tar.gz", "my.bucket-1", "a/b/model.tar.gz", False),
        ("s3://bucket/prefix/", "bucket", "prefix/", True),
        ("s3://bucket", "bucket", "", True),
        ("s3://bucket/", "bucket", "", True),
        ("S3://bucket/k", "bucket", "k", False),
        ("s3://bucket/a//b", "bucket", "a//b", False),
        ("s3://bucket/with space/é", "bucket", "with space/é", False),
        ("  s3://bucket/k  ", "bucket", "k", False),
    ],
)
def test_s3_locations(uri: str, bucket: str, key: str, is_prefix: bool) -> None:
    loc = parse_location(uri)
    assert (loc.scheme, loc.bucket, loc.key, loc.is_prefix, loc.is_s3) == ("s3", bucket, key, is_prefix, True)
    assert loc.uri == f"s3://{bucket}/{key}"


@pytest.mark.parametrize(
    ("value", "expected", "is_prefix"),
    [
        ("file:///srv/models/model.tar.gz", "/srv/models/model.tar.gz", False),
        ("file://localhost/srv/x", "/srv/x", False),
        ("file:///srv/models/", "/srv/models", True),
        ("file:///a%20b/c", "/a b/c", False),
        ("/abs/path", "/abs/path", False),
        ("/abs/dir/", "/abs/dir", True),
        ("/abs/../abs2/./x", "/abs2/x", False),
        ("relative/file.txt", "{base}/relative/file.txt", False),
        ("./rel/", "{base}/rel", True),
        ("../up", "{parent}/up", False),
    ],
)
def test_local_locations(value: str, expected: str, is_prefix: bool, tmp_path: Path) -> None:
    loc = parse_location(value, base_dir=tmp_path)
    want = Path(expected.format(base=tmp_path, parent=tmp_path.parent))
    assert (loc.scheme, loc.path, loc.is_prefix, loc.is_s3) == ("file", want, is_prefix, False)
    assert parse_location(loc.uri).path == want


def test_path_objects_and_default_base(tmp_path: Path) -> None:
    assert parse_location(tmp_path / "x").path == tmp_path / "x"
    assert parse_location("x").path == Path.cwd() / "x"


def test_uri_round_trip_percent_encodes_local_paths() -> None:
    loc = parse_location("/tmp/a b/c")
    assert loc.uri == "file:///tmp/a%20b/c"
    assert parse_location(loc.uri) == loc


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("s3://", "no bucket name"),
        ("s3:///x", "no bucket name"),
        ("s3://a/x", "invalid bucket name 'a'"),
        ("s3://bad_bucket!/x", "invalid bucket name"),
        ("s3://-bucket/x", "invalid bucket name"),
        ("s3:bucket/x", "malformed location"),
        ("file:relative/path", "malformed location"),
        ("http://example.com/model.tar.gz", "unsupported scheme 'http'"),
        ("https://bucket.s3.amazonaws.com/k", "unsupported scheme 'https'"),
        ("gs://bucket/k", "unsupported scheme 'gs'"),
        ("", "empty location"),
        ("   ", "empty location"),
        ("file://otherhost/x", "names host 'otherhost'"),
        ("file:///x?y=1", "query or fragment"),
        ("s3://bucket/a\nb", "control character"),
        ("/tmp/a\x00b", "NUL"),
    ],
)
def test_bad_locations_raise_actionable_errors(uri: str, fragment: str) -> None:
    with pytest.raises(InvalidLocationError) as info:
        parse_location(uri)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_usage_hint_in_scheme_errors() -> None:
    with pytest.raises(InvalidLocationError, match=r"use s3://bucket/key, file:///absolute/path"):
        parse_location("ftp://x/y")


def test_non_string_is_refused() -> None:
    with pytest.raises(InvalidLocationError, match="must be a string"):
        parse_location(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("base", "relative", "expected"),
    [
        ("s3://b1b/prefix", "a/b.csv", "s3://b1b/prefix/a/b.csv"),
        ("s3://b1b/prefix/", "/a.csv", "s3://b1b/prefix/a.csv"),
        ("s3://b1b", "a.csv", "s3://b1b/a.csv"),
        ("/srv/out", "x/y.out", "file:///srv/out/x/y.out"),
    ],
)
def test_child(base: str, relative: str, expected: str) -> None:
    assert parse_location(base).child(relative).uri == expected


def test_name() -> None:
    assert parse_location("s3://bkt/a/model.tar.gz").name == "model.tar.gz"
    assert parse_location("s3://bkt/").name == ""
    assert parse_location("/srv/m/model.tar.gz").name == "model.tar.gz"
